import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import { SeedSequence } from '../../src-main/engine/nn/init.js';
import { conv2d, conv2dOnInput, createConv } from '../../src-main/engine/nn/layers.js';
import { tf } from '../../src-main/engine/tf.js';
import { relErr, values } from './compare.js';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm' });
});

describe('conv2dOnInput (a conv of the input images)', () => {
  it.each(['wasm', 'cpu'] as const)('has conv2d’s value and filter/bias gradients, without a gradient for x, on %s', async (backend) => {
    await selectBackend({ backend });
    const x = tf.tensor4d(values(3 * 9 * 9 * 2, 5), [3, 9, 9, 2]);
    const w = tf.tensor4d(values(3 * 7 * 7 * 4, 6), [3, 7, 7, 4]);
    const p = createConv(2, 4, 3, new SeedSequence(7));
    const run = (conv: typeof conv2d) =>
      tf.variableGrads(() => tf.sum(tf.mul(conv(x, p, 'valid'), w)) as tf.Scalar, [p.kernel, p.bias]);
    const kernelsOf = async (conv: typeof conv2d) => {
      const info = await tf.profile(() => {
        const { value, grads } = run(conv);
        return [value, ...Object.values(grads)];
      });
      tf.dispose(info.result as tf.Tensor[]);
      return info.kernels.map((k) => k.name);
    };
    const ours = run(conv2dOnInput);
    const fused = run(conv2d);
    expect(ours.value.dataSync()[0]).toBeCloseTo(fused.value.dataSync()[0], 4);
    for (const v of [p.kernel, p.bias]) expect(relErr(ours.grads[v.name].dataSync(), fused.grads[v.name].dataSync())).toBeLessThan(1e-5);
    const [withOurs, withFused] = [await kernelsOf(conv2dOnInput), await kernelsOf(conv2d)];
    expect(withOurs).toContain('Conv2DBackpropFilter');
    expect(withOurs).not.toContain('Conv2DBackpropInput');
    expect(withFused).toContain('Conv2DBackpropInput'); // what it saves
    tf.dispose([x, w, p.kernel, p.bias, ours.value, fused.value, ...Object.values(ours.grads), ...Object.values(fused.grads)]);
    await selectBackend({ backend: 'wasm' });
  });
});
