/** The optimisers' update rules against their formulas, and the cosine learning-rate schedule. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { createOptimizer, learningRate } from '../../src-main/engine/train/optimizers';
import { OptimizerSpec } from '../../src-shared/run-config';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

/** Runs `steps` updates of a scalar parameter with gradient `grad(p)`; returns the parameter after each. */
function trajectory(spec: OptimizerSpec, p0: number, grad: (p: number) => number, steps: number): number[] {
  const p = tf.variable(tf.scalar(p0));
  const opt = createOptimizer(spec, [p], steps);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const g = tf.scalar(grad(p.dataSync()[0]));
    opt.step([g]);
    g.dispose();
    out.push(p.dataSync()[0]);
  }
  opt.dispose();
  p.dispose();
  return out;
}

describe('optimisers', () => {
  it('SGD moves against the gradient by lr·g; momentum accumulates as PyTorch does', () => {
    expect(trajectory(OptimizerSpec.parse({ kind: 'sgd', lr: 0.1 }), 1, () => 2, 2)).toEqual([expect.closeTo(0.8, 6), expect.closeTo(0.6, 6)]);
    // buf1 = g, buf2 = 0.9·g + g: p = 1 − 0.1·2 − 0.1·3.8
    const [a, b] = trajectory(OptimizerSpec.parse({ kind: 'sgd', lr: 0.1, momentum: 0.9 }), 1, () => 2, 2);
    expect(a).toBeCloseTo(0.8, 6);
    expect(b).toBeCloseTo(0.8 - 0.38, 6);
  });

  it("Adam's first step is lr in the gradient's sign (bias correction); AdamW decays weights by lr·wd", () => {
    const [p1] = trajectory(OptimizerSpec.parse({ kind: 'adam', lr: 0.01 }), 1, () => 123, 1);
    expect(p1).toBeCloseTo(1 - 0.01, 6);
    const [q1] = trajectory(OptimizerSpec.parse({ kind: 'adamw', lr: 0.01, weightDecay: 0.5 }), 2, () => 0, 1);
    expect(q1).toBeCloseTo(2 * (1 - 0.01 * 0.5), 6);
  });

  it('cosine schedule: update t uses lr·½(1 + cos(πt/T)), from lr down towards 0', () => {
    const T = 8;
    const spec = OptimizerSpec.parse({ kind: 'sgd', lr: 0.5, schedule: 'cosine' });
    const ps = trajectory(spec, 0, () => 1, T);
    const deltas = ps.map((p, i) => (i === 0 ? -p : ps[i - 1] - p));
    deltas.forEach((d, t) => expect(d).toBeCloseTo(0.5 * 0.5 * (1 + Math.cos((Math.PI * t) / T)), 6));
    expect(learningRate(spec, 0, T)).toBe(0.5);
    expect(learningRate(spec, T, T)).toBeCloseTo(0, 12);
    expect(learningRate(OptimizerSpec.parse({ lr: 0.3 }), 5, T)).toBe(0.3);
    // A config stored before schedules existed has none: it trained at a constant rate.
    expect(learningRate({ lr: 0.3 } as OptimizerSpec, 5, T)).toBe(0.3);
  });
});
