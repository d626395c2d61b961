/** The optimisers' update rules against their formulas, and the cosine and step learning-rate schedules. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { createOptimizer, learningRate } from '../../src-main/engine/train/optimizers';
import { OptimizerSpec } from '../../src-shared/run-config';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

/** Runs `steps` updates of a scalar parameter with gradient `grad(p)`; returns the parameter after each. */
function trajectory(spec: OptimizerSpec, p0: number, grad: (p: number) => number, steps: number, batchesPerEpoch = 1): number[] {
  const p = tf.variable(tf.scalar(p0));
  const opt = createOptimizer(spec, [p], { totalSteps: steps, batchesPerEpoch });
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
    const plan = { totalSteps: T, batchesPerEpoch: 2 };
    expect(learningRate(spec, 0, plan)).toBe(0.5);
    expect(learningRate(spec, T, plan)).toBeCloseTo(0, 12);
    expect(learningRate(OptimizerSpec.parse({ lr: 0.3 }), 5, plan)).toBe(0.3);
    // A config stored before schedules existed has none: it trained at a constant rate.
    expect(learningRate({ lr: 0.3 } as OptimizerSpec, 5, plan)).toBe(0.3);
  });

  it("step schedule: lr·gamma^k from the first update of the epoch after the k-th milestone, as odenet_mnist.py's learning_rate_with_decay", () => {
    const spec = OptimizerSpec.parse({ kind: 'sgd', lr: 0.1, momentum: 0.9, schedule: 'step', milestones: [60, 100, 140] });
    expect(spec.gamma).toBe(0.1);
    // 469 batches per epoch (MNIST's 60 000 in 128s): epoch 60 ends with update 28 139 (0-based), epoch 61 starts at 28 140.
    const plan = { totalSteps: 160 * 469, batchesPerEpoch: 469 };
    // torchdiffeq: boundaries = [469·60, 469·100, 469·140], lr(itr) = vals[argmax([itr < b for b in boundaries] + [True])].
    const boundaries = [60, 100, 140].map((e) => e * 469);
    const vals = [1, 0.1, 0.01, 0.001].map((r) => 0.1 * r);
    const torchdiffeq = (itr: number) => vals[[...boundaries.map((b) => itr < b), true].indexOf(true)];
    for (const b of boundaries) {
      for (const t of [b - 2, b - 1, b, b + 1]) expect(learningRate(spec, t, plan)).toBeCloseTo(torchdiffeq(t), 15);
    }
    expect([0, 28_139, 28_140, 46_899, 46_900, 65_659, 65_660, 75_039].map((t) => learningRate(spec, t, plan))).toEqual([
      0.1, 0.1, expect.closeTo(0.01, 15), expect.closeTo(0.01, 15), expect.closeTo(0.001, 15), expect.closeTo(0.001, 15),
      expect.closeTo(1e-4, 15), expect.closeTo(1e-4, 15),
    ]);
    // Milestones beyond the run never take effect; its length (cosine's plan) does not move them.
    expect(learningRate(spec, 28_139, { ...plan, totalSteps: 10 })).toBe(0.1);
    expect(learningRate(spec, 28_140, { ...plan, totalSteps: 10 })).toBeCloseTo(0.01, 15);
  });

  it('step schedule: the optimiser applies it per update (SGD, 3 batches an epoch, ×0.5 after epochs 1 and 2)', () => {
    const spec = OptimizerSpec.parse({ kind: 'sgd', lr: 0.4, schedule: 'step', milestones: [1, 2], gamma: 0.5 });
    const ps = trajectory(spec, 0, () => 1, 8, 3);
    const deltas = ps.map((p, i) => (i === 0 ? -p : ps[i - 1] - p));
    expect(deltas.map((d) => Number(d.toFixed(5)))).toEqual([0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1]);
  });
});
