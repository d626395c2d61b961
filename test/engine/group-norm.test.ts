import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import { GROUP_NORM, GROUP_NORM_GRAD, hasGroupNormKernel } from '../../src-main/engine/kernels/group-norm.js';
import { createGroupNorm, groupNorm, groupNormComposite, type GroupNormParams } from '../../src-main/engine/nn/layers.js';
import { tf } from '../../src-main/engine/tf.js';
import { relErr, size, values } from './compare.js';

type Shape4 = [number, number, number, number];

interface Case {
  shape: Shape4;
  groups: number;
  /** Added to x: a large mean tests the variance for cancellation. */
  offset: number;
}
const cases: Case[] = [
  { shape: [4, 5, 7, 6], groups: 6, offset: 0 }, // one channel per group, as the ODENet uses it
  { shape: [3, 4, 4, 8], groups: 2, offset: 0.5 },
  { shape: [2, 3, 5, 12], groups: 3, offset: 0 },
  { shape: [2, 6, 6, 4], groups: 1, offset: 0 }, // LayerNorm-like: one group
  { shape: [3, 4, 4, 6], groups: 3, offset: 300 },
  { shape: [2, 3, 3, 3], groups: 3, offset: 0 }, // odd channel count: a 12-float lane period, 27-float samples
  { shape: [2, 3, 3, 16], groups: 8, offset: -2 }, // the shapes model's stem
  { shape: [1, 1, 1, 6], groups: 2, offset: 0 }, // a sample shorter than one vector
];

function params(c: number, groups: number, seed: number): GroupNormParams {
  const p = createGroupNorm(groups, c);
  p.gamma.assign(tf.tensor1d(values(c, seed).map((v) => 1 + 0.5 * v)));
  p.beta.assign(tf.tensor1d(values(c, seed + 1).map((v) => 0.3 * v)));
  return p;
}

/** Value, dL/dx, dL/dγ, dL/dβ of L = Σ w ⊙ GN(x) with the given GroupNorm implementation. */
function valueAndGrads(gn: typeof groupNorm, x: tf.Tensor, w: tf.Tensor, p: GroupNormParams): Float32Array[] {
  const out = tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(() => tf.sum(tf.mul(gn(x, p), w)), [x, p.gamma, p.beta], undefined);
    return [gn(x, p), value, ...(grads as tf.Tensor[])];
  });
  const data = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return [data[0], data[2], data[3], data[4]];
}

/** GN(x) in float64 (ε = 1e-5), the reference. */
function groupNormF64(x: Float64Array, shape: Shape4, groups: number, gamma: Float64Array, beta: Float64Array): Float64Array {
  const [n, h, wd, c] = shape;
  const perGroup = c / groups;
  const s = h * wd;
  const y = new Float64Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let p = 0; p < s; p++) for (let ch = g * perGroup; ch < (g + 1) * perGroup; ch++) idx.push(i * s * c + p * c + ch);
      const mean = idx.reduce((a, k) => a + x[k], 0) / idx.length;
      const variance = idx.reduce((a, k) => a + (x[k] - mean) ** 2, 0) / idx.length;
      const r = 1 / Math.sqrt(variance + 1e-5);
      for (const k of idx) y[k] = (x[k] - mean) * r * gamma[k % c] + beta[k % c];
    }
  }
  return y;
}

/** ∂loss/∂vec[k] by central differences with step h; vec[k] is restored. */
function centralDifference(vec: Float64Array, k: number, h: number, loss: () => number): number {
  const saved = vec[k];
  vec[k] = saved + h;
  const plus = loss();
  vec[k] = saved - h;
  const minus = loss();
  vec[k] = saved;
  return (plus - minus) / (2 * h);
}

/** L = Σ w ⊙ GN(x) in float64, the finite-difference reference. */
function lossF64(x: Float64Array, shape: Shape4, groups: number, gamma: Float64Array, beta: Float64Array, w: Float32Array): number {
  return groupNormF64(x, shape, groups, gamma, beta).reduce((loss, v, k) => loss + w[k] * v, 0);
}

let original: string;

beforeAll(async () => {
  await selectBackend({ backend: 'wasm' });
  original = tf.getBackend();
});
afterAll(async () => {
  await tf.setBackend(original);
});

describe('GroupNorm kernel on wasm', () => {
  beforeAll(async () => {
    await selectBackend({ backend: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('is registered, with its gradient kernel', () => {
    expect(hasGroupNormKernel()).toBe(true);
    expect(tf.getKernel(GROUP_NORM_GRAD, 'wasm')).toBeDefined();
    expect(tf.getGradient(GROUP_NORM)).toBeDefined();
  });

  it.each(cases)('forward and gradients equal the composite within 1e-4: $shape groups $groups offset $offset', (c) => {
    const x = tf.tensor4d(values(size(c.shape), 7).map((v) => v * 2 + c.offset), c.shape);
    const w = tf.tensor4d(values(size(c.shape), 8), c.shape);
    const p = params(c.shape[3], c.groups, 9);
    const actual = valueAndGrads(groupNorm, x, w, p);
    const expected = valueAndGrads(groupNormComposite, x, w, p);
    // The composite itself loses precision to cancellation at a large offset (float32 (x − μ) and moments).
    const tol = c.offset > 100 ? 1e-3 : 1e-4;
    ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => expect(relErr(actual[i], expected[i]), name).toBeLessThan(tol));
    tf.dispose([x, w, p.gamma, p.beta]);
  });

  it('has the gradients of central finite differences of a float64 reference, within 1e-4', () => {
    const shape: Shape4 = [2, 3, 4, 6];
    const groups = 3;
    const xData = values(size(shape), 21).map((v) => v + 0.2);
    const wData = values(size(shape), 22);
    const p = params(shape[3], groups, 23);
    const x = tf.tensor4d(xData, shape);
    const w = tf.tensor4d(wData, shape);
    const [, dx, dgamma, dbeta] = valueAndGrads(groupNorm, x, w, p);
    const gamma = Float64Array.from(p.gamma.dataSync());
    const beta = Float64Array.from(p.beta.dataSync());
    const x64 = Float64Array.from(xData);
    const fd = (vec: Float64Array, k: number) => centralDifference(vec, k, 1e-5, () => lossF64(x64, shape, groups, gamma, beta, wData));
    const dxFd = Array.from({ length: x64.length }, (_, k) => fd(x64, k));
    const dgammaFd = Array.from({ length: gamma.length }, (_, k) => fd(gamma, k));
    const dbetaFd = Array.from({ length: beta.length }, (_, k) => fd(beta, k));
    expect(relErr(dx, dxFd)).toBeLessThan(1e-4);
    expect(relErr(dgamma, dgammaFd)).toBeLessThan(1e-4);
    expect(relErr(dbeta, dbetaFd)).toBeLessThan(1e-4);
    tf.dispose([x, w, p.gamma, p.beta]);
  });

  it('keeps float32 precision when the mean is 10⁵ times the spread (centred sums and x − μ)', () => {
    const shape: Shape4 = [2, 5, 5, 6];
    const groups = 3;
    // The inputs as float32 values; the reference computes in float64 from exactly those.
    const x32 = Float32Array.from(values(size(shape), 61), (v) => 1000 + 0.01 * v);
    const wData = values(size(shape), 62);
    const p = params(shape[3], groups, 63);
    const x = tf.tensor4d(x32, shape);
    const w = tf.tensor4d(wData, shape);
    const [y, dx] = valueAndGrads(groupNorm, x, w, p);
    const gamma = Float64Array.from(p.gamma.dataSync());
    const beta = Float64Array.from(p.beta.dataSync());
    const x64 = Float64Array.from(x32);
    expect(relErr(y, groupNormF64(x64, shape, groups, gamma, beta))).toBeLessThan(1e-4);
    // dL/dx by central differences of the float64 reference; steps small against the spread (1e-2).
    const dxFd = Array.from({ length: x64.length }, (_, k) =>
      centralDifference(x64, k, 1e-6, () => lossF64(x64, shape, groups, gamma, beta, wData)),
    );
    expect(relErr(dx, dxFd)).toBeLessThan(1e-3);
    tf.dispose([x, w, p.gamma, p.beta]);
  });

  it('leaks no tensors or backend data over forward and backward passes', () => {
    const shape: Shape4 = [3, 5, 5, 4];
    const x = tf.tensor4d(values(size(shape), 31), shape);
    const p = params(4, 2, 32);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(groupNorm(x, p))) as tf.Scalar);
      tf.dispose([value, ...Object.values(grads)]);
      groupNorm(x, p).dispose();
    };
    step();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    tf.dispose([x, p.gamma, p.beta]);
  });

  it('rejects groups that do not divide the channels', () => {
    const x = tf.zeros([1, 2, 2, 6]);
    expect(() =>
      tf.engine().runKernel(GROUP_NORM, { x, gamma: tf.ones([6]), beta: tf.zeros([6]) }, { groups: 4, epsilon: 1e-5 }),
    ).toThrow(/6 channels do not split into 4 groups/);
    x.dispose();
  });
});

describe('GroupNorm elsewhere', () => {
  it('is composed from tfjs ops on cpu (no kernel there)', async () => {
    await selectBackend({ backend: 'cpu' });
    expect(hasGroupNormKernel()).toBe(false);
    const shape: Shape4 = [2, 3, 3, 6];
    const x = tf.tensor4d(values(size(shape), 51), shape);
    const p = params(6, 3, 52);
    const [a, b] = [groupNorm(x, p), groupNormComposite(x, p)];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b, x, p.gamma, p.beta]);
    await selectBackend({ backend: 'wasm' });
  });
});

describe('GroupNorm kernel on the ODENet state', () => {
  it('equals the composite on wasm at batch 128, 26×26×6', async () => {
    await selectBackend({ backend: 'wasm' });
    const shape: Shape4 = [128, 26, 26, 6];
    const x = tf.tensor4d(values(size(shape), 41), shape);
    const w = tf.tensor4d(values(size(shape), 42), shape);
    const p = params(6, 6, 43);
    const actual = valueAndGrads(groupNorm, x, w, p);
    const expected = valueAndGrads(groupNormComposite, x, w, p);
    ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => expect(relErr(actual[i], expected[i]), name).toBeLessThan(1e-4));
    tf.dispose([x, w, p.gamma, p.beta]);
  });
});

describe('GroupNorm kernel edge shapes', () => {
  it('normalises an empty batch to an empty result, and refuses samples with nothing to normalise', async () => {
    await selectBackend({ backend: 'wasm' });
    const p = params(6, 3, 71);
    const empty = tf.zeros([0, 4, 4, 6]);
    const y = groupNorm(empty, p);
    expect(y.shape).toEqual([0, 4, 4, 6]);
    const { value, grads } = tf.variableGrads(() => tf.sum(groupNorm(empty, p)) as tf.Scalar, [p.gamma, p.beta]);
    expect(value.dataSync()[0]).toBe(0);
    expect(Array.from(grads[p.gamma.name].dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(grads[p.beta.name].dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    y.dispose();
    const hollow = tf.zeros([2, 0, 4, 6]);
    expect(() => groupNorm(hollow, p)).toThrow(/no elements to normalise per sample/);
    tf.dispose([empty, hollow, value, ...Object.values(grads), p.gamma, p.beta]);
  });
});
