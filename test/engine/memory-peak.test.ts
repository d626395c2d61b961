/**
 * The peak tensor memory of a training step, as the epoch event reports it: checked against tfjs's own exact peak
 * (tf.profile), and telling a direct gradient (memory grows with the solver's steps) from the adjoint (constant).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor } from '../../src-main/engine';
import { openPeakWindow, peakSinceOpened } from '../../src-main/engine/memory-peak';
import { buildModel } from '../../src-main/engine/models';
import { createOptimizer } from '../../src-main/engine/train/optimizers';
import { localStep } from '../../src-main/engine/train/steps';
import { RunConfig } from '../../src-shared/run-config';

beforeAll(async () => {
  await initEngine();
});

describe('peak tensor memory of a step', () => {
  const W = tf.variable(tf.randomNormal([32, 32], 0, 0.2, 'float32', 3), true, 'W_peak');
  const f = (_t: number, y: Tensor) => tf.tanh(tf.matMul(y, W));
  const y0 = tf.randomNormal([64, 32], 0, 1, 'float32', 4);

  /** Our peak and tfjs's exact one (every kernel's bytes, profiled) over one gradient of a loss of the solution. */
  async function peaks(steps: number, gradient: 'direct' | 'adjoint'): Promise<{ sampled: number; exact: number }> {
    const opts: OdeintOptions = { method: 'rk4', stepSize: 1 / steps, gradient };
    let sampled = 0;
    const info = await tf.profile(() => {
      openPeakWindow();
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(odeint({ params: [W], f }, y0, [0, 1], opts).ys[1])));
      sampled = peakSinceOpened();
      tf.dispose([value, ...Object.values(grads)]);
    });
    return { sampled, exact: info.peakBytes };
  }

  it("is tfjs's own exact peak (tf.profile's), direct or adjoint, with no profiling", async () => {
    for (const [steps, gradient] of [
      [100, 'direct'],
      [10, 'direct'],
      [100, 'adjoint'],
    ] as const) {
      const { sampled, exact } = await peaks(steps, gradient);
      expect(sampled, `${gradient} ${steps}`).toBe(exact);
    }
  });

  it("shows a training step's direct gradient growing with the solver's steps and the adjoint's not", async () => {
    const peakOfStep = async (gradient: 'direct' | 'adjoint', stepSize: number) => {
      const config = RunConfig.parse({
        model: { name: 'convnode-fashion', solver: { method: 'rk4', stepSize, gradient } },
        dataset: { kind: 'fashion-mnist' },
        optimizer: { name: 'adam', lr: 1e-3 },
      });
      const model = buildModel(config.model, { classes: 10, imageShape: [28, 28, 1], seed: 1 });
      const optimizer = createOptimizer(config.optimizer, model.params);
      const x = tf.randomUniform([16, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      const y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32');
      const before = tf.memory().numBytes;
      try {
        const result = await localStep(model, optimizer, 10)({ x, y, size: 16 });
        return { peak: result.tensorBytes, held: before };
      } finally {
        optimizer.dispose();
        tf.dispose([x, y, ...model.params]);
      }
    };
    const direct4 = await peakOfStep('direct', 0.25);
    const direct20 = await peakOfStep('direct', 0.05);
    const adjoint4 = await peakOfStep('adjoint', 0.25);
    const adjoint20 = await peakOfStep('adjoint', 0.05);
    // What a step adds to what stays between steps (weights, the batch): the direct gradient keeps each RK4 step's
    // four evaluations of a 16×2028 state; the adjoint keeps none of them.
    const added = (p: { peak: number; held: number }) => p.peak - p.held;
    expect(added(direct20) / added(direct4)).toBeGreaterThan(3);
    expect(added(adjoint20) / added(adjoint4)).toBeLessThan(1.2);
    expect(added(direct20)).toBeGreaterThan(4 * added(adjoint20));
  });
});
