/**
 * Conv2DBackpropInput on wasm (src-main/engine/kernels/conv2d-backprop-input.ts): the stride-phase decomposition
 * against a float64 loop written from the forward convolution's definition and against tfjs's cpu kernel, over
 * strides, filter sizes, paddings, odd and even sizes, channels and batches; and the input gradient of strided
 * convs against central finite differences of the wasm forward conv.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import { planAxis } from '../../src-main/engine/kernels/conv2d-backprop-input.js';
import { tf } from '../../src-main/engine/tf.js';
import { on, relErr, size, values } from './compare.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

beforeAll(async () => {
  expect((await selectBackend({ backend: 'wasm' })).backend).toBe('wasm');
});

/** dx by scattering every dy element through the filter, as y[n,oy,ox,co] = Σ x[n, oy·sh − top + ky, …]·w[ky,kx,ci,co]. */
function reference(dy: Float32Array, w: Float32Array, x: Shape4, f: Shape4, strides: [number, number], pad: Pad): Float64Array {
  const info = tf.backend_util.computeConv2DInfo(x, f, strides, 1, pad);
  const [n, inH, inW, inC] = x;
  const [fh, fw, , outC] = f;
  const { outHeight: outH, outWidth: outW, padInfo } = info;
  const dx = new Float64Array(size(x));
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let ky = 0; ky < fh; ky++) {
          const iy = oy * strides[0] - padInfo.top + ky;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < fw; kx++) {
            const ix = ox * strides[1] - padInfo.left + kx;
            if (ix < 0 || ix >= inW) continue;
            for (let ci = 0; ci < inC; ci++) {
              let sum = 0;
              for (let co = 0; co < outC; co++) {
                sum += dy[((b * outH + oy) * outW + ox) * outC + co] * w[((ky * fw + kx) * inC + ci) * outC + co];
              }
              dx[((b * inH + iy) * inW + ix) * inC + ci] += sum;
            }
          }
        }
      }
    }
  }
  return dx;
}

interface Case {
  x: Shape4;
  f: Shape4;
  strides: [number, number];
  pad: Pad;
}

// Every stride 1–3 × filter 1–4 × padding × odd/even size; channels and batch vary with the case.
const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 2], [2, 0], [0, 0]]];
const grid: Case[] = [];
for (const s of [1, 2, 3]) {
  for (let k = 1; k <= 4; k++) {
    for (const pad of pads) {
      for (const side of [7, 8]) {
        const i = grid.length;
        grid.push({ x: [1 + (i % 3), side, side + 2, [1, 3, 5][i % 3]], f: [k, k, [1, 3, 5][i % 3], [2, 4, 7][(i >> 1) % 3]], strides: [s, s], pad });
      }
    }
  }
}
const special: Case[] = [
  { x: [3, 28, 28, 64], f: [4, 4, 64, 64], strides: [2, 2], pad: 'valid' }, // the paper's trunk/conv2 (padded by tf.pad)
  { x: [3, 15, 15, 64], f: [4, 4, 64, 64], strides: [2, 2], pad: 'valid' }, // trunk/conv3: input row 14 gets nothing
  { x: [2, 13, 13, 8], f: [4, 4, 8, 8], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] }, // the same, padded in the conv
  { x: [2, 9, 11, 3], f: [3, 2, 3, 4], strides: [2, 3], pad: 'same' }, // unequal strides and filter sides
  { x: [2, 10, 9, 2], f: [4, 3, 2, 3], strides: [3, 2], pad: [[0, 0], [0, 3], [2, 1], [0, 0]] },
  { x: [2, 6, 6, 3], f: [2, 2, 3, 2], strides: [1, 1], pad: [[0, 0], [4, 5], [0, 3], [0, 0]] }, // pad wider than the filter
  { x: [2, 7, 7, 3], f: [2, 2, 3, 2], strides: [2, 2], pad: [[0, 0], [5, 0], [0, 6], [0, 0]] }, // … and strided: dy sliced
  { x: [1, 1, 1, 2], f: [1, 1, 2, 3], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] }, // dy reads only padding
];

function run(c: Case): { dy: Float32Array; w: Float32Array; dyShape: Shape4; dx: () => tf.Tensor } {
  const { outShape } = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad);
  const dy = values(size(outShape), 31);
  const w = values(size(c.f), 32);
  const dx = () =>
    tf.engine().runKernel(
      'Conv2DBackpropInput',
      { dy: tf.tensor(dy, outShape), filter: tf.tensor(w, c.f) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
    ) as tf.Tensor;
  return { dy, w, dyShape: outShape as Shape4, dx };
}

describe('Conv2DBackpropInput on wasm by stride phases', () => {
  it.each([...grid, ...special])(
    'equals a float64 loop and cpu to float32 rounding: x $x f $f strides $strides pad $pad',
    async (c) => {
      const { dy, w, dx } = run(c);
      const [actual] = await on('wasm', () => [dx()]);
      const [cpu] = await on('cpu', () => [dx()]);
      const expected = reference(dy, w, c.x, c.f, c.strides, c.pad);
      if (expected.every((v) => v === 0)) {
        expect(Array.from(actual).every((v) => v === 0) && Array.from(cpu).every((v) => v === 0)).toBe(true);
        return;
      }
      expect(relErr(actual, expected)).toBeLessThan(2e-6);
      expect(relErr(actual, cpu)).toBeLessThan(2e-6);
    },
  );

  it('plans odd sizes: 13 rows, 4 taps, stride 2, pad 1 → 7 blocks of the 2 phases, dx from the second row', () => {
    // u = y + 1 runs 1…13: blocks q = 0…6; phase 0 holds rows u = 2, 4, …, 12 (6 rows), phase 1 u = 1, …, 13 (7).
    expect(planAxis(13, 6, 4, 2, 1)).toEqual({ taps: 2, blocks: 7, begin: 0, size: 6, padBefore: 1, padAfter: 1, offset: 1 });
    // 'valid' 15 → 6: the 8th block (u = 14, 15) reads dy rows 6 and 7, both past dy: padding.
    expect(planAxis(15, 6, 4, 2, 0)).toEqual({ taps: 2, blocks: 8, begin: 0, size: 6, padBefore: 1, padAfter: 2, offset: 0 });
  });

  it('leaks no backend data, strided, cropped or not', () => {
    const cases = [special[0], special[2], special[6], grid[5]];
    for (const c of cases) tf.tidy(() => run(c).dx()); // first calls may allocate kernel state
    const before = tf.backend().numDataIds();
    for (const c of cases) expect(tf.tidy(() => run(c).dx().shape)).toEqual(c.x);
    expect(tf.backend().numDataIds()).toBe(before);
  });
});

describe('a strided conv’s input gradient on wasm', () => {
  it.each([
    { x: [2, 9, 9, 3] as Shape4, f: [4, 4, 3, 5] as Shape4, strides: 2, pad: 'same' as const },
    { x: [1, 10, 11, 2] as Shape4, f: [3, 3, 2, 4] as Shape4, strides: 3, pad: 'valid' as const },
    { x: [2, 8, 7, 2] as Shape4, f: [2, 3, 2, 3] as Shape4, strides: 2, pad: 'valid' as const },
  ])('equals central differences of the forward conv: x $x f $f stride $strides pad $pad', (c) => {
    // L(x) = Σ conv(x)·r is linear in x, so a central difference is exact but for float32 rounding.
    const x = tf.tensor4d(values(size(c.x), 41), c.x);
    const w = tf.tensor4d(values(size(c.f), 42), c.f);
    const { outShape } = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad);
    const r = tf.tensor(values(size(outShape), 43), outShape);
    const loss = (t: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t as tf.Tensor4D, w, c.strides, c.pad), r));
    const grad = tf.grad(loss)(x);
    const analytic = grad.dataSync();
    const base = x.dataSync();
    const h = 0.25;
    const numeric = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const at = (delta: number) =>
        tf.tidy(() => {
          const shifted = base.slice();
          shifted[i] += delta;
          return loss(tf.tensor4d(shifted, c.x)).dataSync()[0];
        });
      numeric[i] = (at(h) - at(-h)) / (2 * h);
    }
    expect(relErr(analytic, numeric)).toBeLessThan(1e-4);
    tf.dispose([x, w, r, grad]);
  });
});
