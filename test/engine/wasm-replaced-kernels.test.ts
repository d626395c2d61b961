import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import { tf } from '../../src-main/engine/tf.js';
import { on, relErr, size, values } from './compare.js';

beforeAll(async () => {
  expect((await selectBackend({ backend: 'wasm' })).backend).toBe('wasm');
});

describe('Identity on wasm (aliasing)', () => {
  it('shares the buffer: a clone outlives its source and frees nothing early or late', () => {
    const x = tf.tensor1d(values(1000, 1));
    const expected = x.dataSync().slice();
    const dataIds = tf.backend().numDataIds();
    const y = tf.clone(x);
    expect(tf.backend().numDataIds()).toBe(dataIds); // no copy
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected));
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(dataIds - 1);
  });

  it('keeps saved tensors valid through a gradient whose inputs were disposed', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => {
      const y = tf.mul(t, t); // saves t through Identity
      return tf.sum(y);
    });
    const dx = g(x);
    expect(Array.from(dx.dataSync())).toEqual([2, 4, 6]);
    tf.dispose([x, dx]);
  });
});

const matMulCases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
  { a: [128, 203], b: [203, 16], transposeA: false, transposeB: false },
  { a: [16, 128], b: [203, 16], transposeA: true, transposeB: true },
  { a: [128, 16], b: [203, 16], transposeA: false, transposeB: true }, // dA = dy·Bᵀ: transposes B
  { a: [128, 203], b: [128, 16], transposeA: true, transposeB: false }, // dB = Aᵀ·dy: transposes A, packs dy
  { a: [128, 16], b: [128, 203], transposeA: true, transposeB: false }, // dB = Aᵀ·dy, wide dy: computes (dyᵀ·A)ᵀ
  { a: [3, 7, 5], b: [3, 4, 7], transposeA: true, transposeB: true },
  { a: [2, 3, 7, 5], b: [1, 7, 6], transposeA: true, transposeB: false }, // broadcast batch
  { a: [4, 5, 9], b: [4, 6, 9], transposeA: false, transposeB: true },
  { a: [4, 64], b: [300, 64], transposeA: false, transposeB: true }, // wide B: computes (B·Aᵀ)ᵀ
  { a: [3, 4, 64], b: [3, 300, 64], transposeA: false, transposeB: true }, // the same, batched
];

describe('BatchMatMul on wasm (transposes replaced)', () => {
  it.each(matMulCases)('equals cpu within 1e-5: a $a b $b tA $transposeA tB $transposeB', async (c) => {
    const run = () => [
      tf.matMul(tf.tensor(values(size(c.a), 2), c.a), tf.tensor(values(size(c.b), 3), c.b), c.transposeA, c.transposeB),
    ];
    const [actual] = await on('wasm', run);
    const [expected] = await on('cpu', run);
    expect(relErr(actual, expected)).toBeLessThan(1e-5);
  });

  // Which operand gets transposed decides the cost (batch-mat-mul.ts): the Fashion model's dense gradients.
  it.each([
    { name: 'dx = dz·W1ᵀ transposes W1, not dxᵀ', a: [128, 16], b: [2028, 16], tA: false, tB: true, moved: [[2028, 16]] },
    {
      name: 'dW3 = hᵀ·dz transposes dz and the small product rather than pack dz',
      a: [128, 16], b: [128, 2028], tA: true, tB: false, moved: [[128, 2028], [2028, 16]],
    },
    { name: 'dW1 = xᵀ·dz transposes x', a: [128, 2028], b: [128, 16], tA: true, tB: false, moved: [[128, 2028]] },
  ])('$name', ({ a, b, tA, tB, moved }) => {
    expect(tf.getBackend()).toBe('wasm');
    const ours = tf.getKernel('Transpose', 'wasm')!;
    const transposed: number[][] = [];
    try {
      tf.unregisterKernel('Transpose', 'wasm');
      tf.registerKernel({
        ...ours,
        kernelFunc: (args) => {
          transposed.push([...(args.inputs.x as tf.TensorInfo).shape]);
          return ours.kernelFunc(args);
        },
      });
      const [x, y] = [tf.tensor(values(size(a), 2), a), tf.tensor(values(size(b), 3), b)];
      tf.dispose([tf.matMul(x, y, tA, tB), x, y]);
    } finally {
      if (tf.getKernel('Transpose', 'wasm')) tf.unregisterKernel('Transpose', 'wasm');
      tf.registerKernel(ours);
    }
    expect(transposed).toEqual(moved);
  });

  it('leaks no backend data', () => {
    const a = tf.tensor(values(128 * 30, 4), [128, 30]);
    const b = tf.tensor(values(128 * 5, 5), [128, 5]);
    const [at, bt] = [tf.transpose(a), tf.transpose(b)];
    tf.matMul(a, b, true, false).dispose();
    const dataIds = tf.backend().numDataIds();
    for (const [tA, tB] of [[true, false], [false, true], [true, true]]) {
      tf.matMul(tA ? a : at, tB ? bt : b, tA, tB).dispose();
    }
    expect(tf.backend().numDataIds()).toBe(dataIds);
    tf.dispose([a, b, at, bt]);
  });
});

const sumCases: { shape: number[]; axis: number | number[]; keepDims?: boolean }[] = [
  { shape: [128, 2028], axis: 0 }, // a dense bias's gradient
  { shape: [16, 26, 26, 6], axis: [0, 1, 2] }, // a conv bias's gradient: 6 columns, a lane period of 12
  { shape: [5, 7], axis: [0], keepDims: true },
  { shape: [3, 5, 3], axis: [1, 0] }, // unsorted leading axes; 15 rows of 3
  { shape: [2, 1], axis: 0 }, // fewer floats than one vector
  { shape: [4000, 3], axis: 0 }, // more rows than one f32 block
  { shape: [7, 5, 3], axis: [0, 1, 2] }, // every axis: one column
  { shape: [7, 5], axis: [0, 1], keepDims: true },
];

describe('Sum on wasm (leading axes by our column sums)', () => {
  it.each(sumCases)('equals cpu within 1e-6: shape $shape axis $axis keepDims $keepDims', async (c) => {
    const run = () => [tf.sum(tf.tensor(values(size(c.shape), 6), c.shape), c.axis, c.keepDims)];
    const [actual] = await on('wasm', run);
    const [expected] = await on('cpu', run);
    expect(relErr(actual, expected)).toBeLessThan(1e-6);
    const shapeOn = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      const shape = tf.tidy(() => tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape);
      await tf.setBackend('wasm');
      return shape;
    };
    expect(await shapeOn('wasm')).toEqual(await shapeOn('cpu'));
  });

  it('sums a large constant exactly where float32 accumulation would drift', () => {
    // 10⁶ rows of 0.1: a running f32 sum ends near 100958; f64 block totals give 100000 to f32 rounding.
    const x = tf.fill([1_000_000, 1], 0.1);
    const s = tf.sum(x, 0);
    expect(s.dataSync()[0]).toBeCloseTo(100000, 0);
    tf.dispose([x, s]);
  });

  it('sums every axis (0 for no elements) and leaves other reductions to the shipped kernel', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const [inner, all, none] = [tf.sum(x, 1), tf.sum(x), tf.sum(tf.zeros([0, 3]))];
    expect(Array.from(inner.dataSync())).toEqual([3, 7]);
    expect(Array.from(all.dataSync())).toEqual([10]);
    expect(Array.from(none.dataSync())).toEqual([0]);
    tf.dispose([x, inner, all, none]);
  });
});

describe('Transpose on wasm (last two axes by our SIMD blocks)', () => {
  it.each([
    [[128, 2028], [1, 0]],
    [[3, 5, 7], [0, 2, 1]], // edges on both sides of every 4×4 block
    [[2, 2, 8, 4], [0, 1, 3, 2]],
    [[1, 1], [1, 0]],
    [[4, 3, 2], [2, 1, 0]], // another permutation: the shipped kernel
  ])('equals cpu exactly: shape %j perm %j', async (shape, perm) => {
    const run = () => [tf.transpose(tf.tensor(values(size(shape), 7), shape), perm)];
    const [actual] = await on('wasm', run);
    const [expected] = await on('cpu', run);
    expect(Array.from(actual)).toEqual(Array.from(expected));
  });
});

describe('ReLU gradient on wasm (one fused pass)', () => {
  it('equals cpu’s dy·step(x) exactly, NaN and ±0 included, and runs no Step', async () => {
    const n = 1003; // a tail after the last 4-float vector
    const xs = values(n, 8);
    xs[0] = 0;
    xs[1] = -0;
    xs[2] = NaN;
    xs[3] = 1e-30;
    const run = () => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), tf.tensor1d(values(n, 9)))))(tf.tensor1d(xs))];
    const [actual] = await on('wasm', run);
    const [expected] = await on('cpu', run);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    const info = await tf.profile(() => tf.grad((x: tf.Tensor) => tf.sum(tf.relu(x)))(tf.tensor1d(xs)));
    tf.dispose(info.result as tf.Tensor);
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('OdelabReluGrad');
    expect(names).not.toContain('Step');
  });
});
