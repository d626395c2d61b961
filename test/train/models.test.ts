/** The models: parameter counts match the originals; forward passes give logits and ODE statistics. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { buildModel, MODELS, parameterCount } from '../../src-main/engine/models';
import { ModelSpec } from '../../src-shared/run-config';

beforeAll(async () => {
  await initEngine();
});

const mnistShaped = { classes: 10, imageShape: [28, 28, 1] as const, seed: 0 };

describe('parameter counts', () => {
  it.each([
    ['odenet-mnist', 10_564], // the MNIST write-up
    ['convnode-fashion', 87_532], // the Fashion-MNIST write-up
    ['odenet-paper', 208_266], // Chen et al.: "0.22 M"
    ['mlp', 238_510], // Chen et al.: "0.24 M"
    ['resnet', 585_226], // Chen et al.: "0.60 M" (6 blocks)
    ['rknet', 208_266], // Chen et al.: "0.22 M"
  ] as const)('%s has %i parameters', (name, count) => {
    const model = buildModel(ModelSpec.parse({ name }), mnistShaped);
    expect(parameterCount(model)).toBe(count);
    tf.dispose(model.params);
  });

  it('shapes-odenet (7 classes) has 56 967 parameters', () => {
    // conv 1→32 (320) + GN (64) + conv 32→64 (18 496) + GN (128) + ODE block [GN (128) + conv 64→64 (36 928)]
    // + linear 2·64→7 (903).
    const model = buildModel(ModelSpec.parse({ name: 'shapes-odenet' }), { ...mnistShaped, classes: 7 });
    expect(parameterCount(model)).toBe(320 + 64 + 18_496 + 128 + 128 + 36_928 + 903);
    tf.dispose(model.params);
  });
});

describe('forward passes', () => {
  it.each(MODELS.map((m) => m.name))('%s maps a batch to logits and reports its solves', (name) => {
    const classes = name === 'shapes-odenet' ? 7 : 10;
    const spec = ModelSpec.parse({ name, solver: { method: 'rk4', stepSize: 0.5 } });
    const model = buildModel(spec, { ...mnistShaped, classes });
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1);
    let odeStats: ReturnType<typeof model.forward>['odeStats'] = [];
    const logits = tf.tidy(() => {
      const out = model.forward(x);
      odeStats = out.odeStats;
      return out.logits;
    });
    expect(logits.shape).toEqual([3, classes]);
    expect(Array.from(logits.dataSync()).every(Number.isFinite)).toBe(true);
    const hasOde = !['mlp', 'resnet'].includes(name);
    expect(odeStats.length).toBe(hasOde ? 1 : 0);
    // rk4 with two steps (rknet: 6 steps by `blocks`) — every stage counted.
    if (hasOde) expect(odeStats[0].nfeForward).toBe(name === 'rknet' ? 4 * 6 : 4 * 2);
    tf.dispose([x, logits]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(model.params);
  });
});
