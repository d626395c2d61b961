import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import { registerWasmKernels } from '../../src-main/engine/kernels/index.js';
import { tf } from '../../src-main/engine/tf.js';
import { on, relErr, size, values } from './compare.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

beforeAll(async () => {
  const { backend } = await selectBackend({ backend: 'wasm' });
  expect(backend).toBe('wasm');
});

describe('wasm kernel registration', () => {
  it('supplies Conv2DBackpropFilter and UnsortedSegmentSum, once', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(registerWasmKernels()).toEqual([]);
  });
});

interface ConvCase {
  x: Shape4;
  f: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
  dataFormat?: 'NHWC' | 'NCHW';
}

const filterCases: ConvCase[] = [
  { x: [128, 26, 26, 6], f: [3, 3, 6, 6], strides: 1, pad: 'same' }, // the hot case
  { x: [8, 28, 28, 1], f: [3, 3, 1, 6], strides: 1, pad: 'same' },
  { x: [1, 7, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 5], f: [3, 3, 5, 2], strides: 2, pad: 'same' },
  { x: [3, 8, 9, 3], f: [3, 2, 3, 4], strides: [2, 3], pad: 'valid' },
  { x: [2, 9, 9, 2], f: [4, 4, 2, 7], strides: 3, pad: 'valid' },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 5], strides: 1, pad: 1 },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 5], strides: 2, pad: 2 },
  { x: [2, 9, 9, 2], f: [3, 3, 2, 3], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [2, 10, 10, 2], f: [3, 3, 2, 2], strides: 1, pad: 'same', dilations: 2 },
  { x: [1, 11, 12, 3], f: [3, 2, 3, 2], strides: 1, pad: 'valid', dilations: [2, 3] },
  { x: [4, 6, 6, 16], f: [1, 1, 16, 8], strides: 1, pad: 'valid' },
  { x: [2, 3, 9, 9], f: [3, 3, 3, 4], strides: 2, pad: 'same', dataFormat: 'NCHW' },
];

describe('Conv2DBackpropFilter on wasm', () => {
  it.each(filterCases)('equals cpu within 1e-4: x $x f $f strides $strides pad $pad dilations $dilations $dataFormat', async (c) => {
    const dataFormat = c.dataFormat ?? 'NHWC';
    const dil = c.dilations ?? 1;
    const [dh, dw] = typeof dil === 'number' ? [dil, dil] : dil;
    const format = dataFormat === 'NHWC' ? 'channelsLast' : 'channelsFirst';
    const { outShape } = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, dil, c.pad, undefined, false, format);
    const xData = values(size(c.x), 1);
    const dyData = values(size(outShape), 2);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat } as const;
    const inputs = () => ({ x: tf.tensor(xData, c.x), dy: tf.tensor(dyData, outShape) });

    const [actual] = await on('wasm', () => [
      tf.engine().runKernel('Conv2DBackpropFilter', inputs(), { ...attrs, filterShape: c.f, dilations: dil }) as tf.Tensor,
    ]);
    // cpu's kernel ignores dilations; a dilated filter is a dense one with zeros between taps, so its gradient
    // is the dense filter's gradient sampled every `dilation` taps (for dilation 1: cpu's result itself).
    const dense: Shape4 = [(c.f[0] - 1) * dh + 1, (c.f[1] - 1) * dw + 1, c.f[2], c.f[3]];
    const [expected] = await on('cpu', () => {
      const g = tf.engine().runKernel('Conv2DBackpropFilter', inputs(), { ...attrs, filterShape: dense }) as tf.Tensor4D;
      return [tf.stridedSlice(g, [0, 0, 0, 0], dense, [dh, dw, 1, 1])];
    });
    expect(relErr(actual, expected)).toBeLessThan(1e-4);
  });
});

const inputCases: ConvCase[] = [
  { x: [16, 26, 26, 6], f: [3, 3, 6, 6], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [3, 8, 9, 3], f: [3, 2, 3, 4], strides: [2, 3], pad: 'valid' },
  { x: [2, 9, 9, 3], f: [1, 1, 3, 4], strides: 2, pad: 'valid' },
  { x: [2, 10, 10, 2], f: [5, 5, 2, 3], strides: 3, pad: 'same' },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 5], strides: 2, pad: 2 },
  { x: [2, 9, 9, 2], f: [3, 3, 2, 3], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 5], strides: 1, pad: 4 }, // pad wider than the filter: shipped fallback
  { x: [2, 3, 9, 9], f: [3, 3, 3, 3], strides: 2, pad: 'same', dataFormat: 'NCHW' }, // shipped fallback
];

describe('Conv2DBackpropInput on wasm (replaced)', () => {
  it.each(inputCases)('equals cpu within 1e-4: x $x f $f strides $strides pad $pad $dataFormat', async (c) => {
    const dataFormat = c.dataFormat ?? 'NHWC';
    const format = dataFormat === 'NHWC' ? 'channelsLast' : 'channelsFirst';
    const { outShape } = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad, undefined, false, format);
    const dyData = values(size(outShape), 3);
    const fData = values(size(c.f), 4);
    const run = () => [
      tf.engine().runKernel(
        'Conv2DBackpropInput',
        { dy: tf.tensor(dyData, outShape), filter: tf.tensor(fData, c.f) },
        { strides: c.strides, pad: c.pad, dataFormat, inputShape: c.x },
      ) as tf.Tensor,
    ];
    const [actual] = await on('wasm', run);
    const [expected] = await on('cpu', run);
    expect(relErr(actual, expected)).toBeLessThan(1e-4);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('equals cpu, dropping out-of-range ids, and makes tf.gather differentiable', async () => {
    const xData = values(6 * 4 * 3, 5);
    const run = () => {
      const x = tf.tensor(xData, [6, 4, 3]);
      const sums = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, -1, 2, 7, 1], 'int32'), 4);
      const dx = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([5, 0, 5, 3], 'int32')).mul(t.slice(0, 4)).sum())(x);
      return [sums, dx];
    };
    const actual = await on('wasm', run);
    const expected = await on('cpu', run);
    expect(relErr(actual[0], expected[0])).toBeLessThan(1e-6);
    expect(relErr(actual[1], expected[1])).toBeLessThan(1e-6);
  });
});

/** conv → group norm → relu → avgPool → dense → softmax cross-entropy: the ops our models train with. */
const net = {
  shapes: { filter: [3, 3, 3, 8], bias: [8], gamma: [8], beta: [8], w: [4 * 4 * 8, 5], b: [5] } as Record<string, number[]>,
  batch: 6,
  groups: 2,
  loss(p: Record<string, tf.Tensor>, x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar {
    const h = tf.conv2d(x, p.filter as tf.Tensor4D, 1, 'same').add(p.bias);
    const [n, height, width, c] = h.shape;
    const grouped = h.reshape([n, height, width, this.groups, c / this.groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normed = grouped.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).reshape(h.shape);
    const a = tf.relu(normed.mul(p.gamma).add(p.beta));
    const pooled = tf.avgPool(a as tf.Tensor4D, 2, 2, 'valid').reshape([n, -1]);
    const logits = tf.matMul(pooled as tf.Tensor2D, p.w as tf.Tensor2D).add(p.b);
    return labels.mul(tf.logSoftmax(logits)).sum(1).mean().neg() as tf.Scalar;
  },
  data() {
    const x = tf.tensor4d(values(this.batch * 8 * 8 * 3, 11), [this.batch, 8, 8, 3]);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 1], 'int32'), 5).toFloat() as tf.Tensor2D;
    return { x, labels };
  },
  params(): Record<string, tf.Tensor> {
    return Object.fromEntries(
      Object.entries(this.shapes).map(([k, s], i) => [k, tf.tensor(values(size(s), 20 + i), s).mul(k === 'gamma' ? 0.5 : 0.3).add(k === 'gamma' ? 1 : 0)]),
    );
  },
};
const names = Object.keys(net.shapes);

describe('training a small conv net on wasm', () => {
  it('gives every parameter the gradient cpu gives, within 1e-4', async () => {
    const run = () => {
      const p = net.params();
      const { x, labels } = net.data();
      const g = tf.grads((...ts: tf.Tensor[]) => net.loss(Object.fromEntries(names.map((k, i) => [k, ts[i]])), x, labels));
      return [net.loss(p, x, labels), ...g(names.map((k) => p[k]))];
    };
    const actual = await on('wasm', run);
    const expected = await on('cpu', run);
    expect(relErr(actual[0], expected[0])).toBeLessThan(1e-5);
    names.forEach((name, i) => expect(relErr(actual[i + 1], expected[i + 1]), name).toBeLessThan(1e-4));
  });

  it.each([
    ['adam', () => tf.train.adam(0.01)],
    ['sgd with momentum', () => tf.train.momentum(0.05, 0.9)],
  ] as const)('takes the same %s steps as cpu', async (_name, makeOptimizer) => {
    const run = () => {
      const vars = Object.fromEntries(Object.entries(net.params()).map(([k, t]) => [k, tf.variable(t, true, `p_${k}`)]));
      const { x, labels } = net.data();
      const optimizer = makeOptimizer();
      for (let step = 0; step < 3; step++) optimizer.minimize(() => net.loss(vars, x, labels));
      optimizer.dispose();
      const out = names.map((k) => vars[k].clone());
      Object.values(vars).forEach((v) => v.dispose());
      return out;
    };
    const actual = await on('wasm', run);
    const expected = await on('cpu', run);
    names.forEach((name, i) => expect(relErr(actual[i], expected[i]), name).toBeLessThan(1e-4));
  });

  it('leaks no tensor and no backend buffer over repeated gradient steps', () => {
    const vars = tf.tidy(() =>
      Object.fromEntries(Object.entries(net.params()).map(([k, t]) => [k, tf.variable(t, true, `leak_${k}`)])),
    );
    const { x, labels } = net.data();
    const optimizer = tf.train.adam(0.01);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => net.loss(vars, x, labels));
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      tf.dispose([value, ...Object.values(grads)]);
      // Also the composite kernels directly, strided and padded, where their scratch buffers differ.
      tf.tidy(() => {
        const xs = tf.tensor4d(values(2 * 9 * 9 * 3, 9), [2, 9, 9, 3]);
        const dy = tf.conv2d(xs, vars.filter as tf.Tensor4D, 2, 'valid');
        tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'valid').mul(dy).sum())([xs, vars.filter]);
        tf.grad((a: tf.Tensor) => tf.gather(a, tf.tensor1d([1, 1, 0], 'int32')).sum())(xs);
      });
    };
    step(); // the optimizer creates its slot variables on the first step
    const before = { tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() };
    for (let i = 0; i < 5; i++) step();
    expect({ tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() }).toEqual(before);
    optimizer.dispose();
    tf.dispose([x, labels, ...Object.values(vars)]);
  });
});
