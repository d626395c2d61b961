/** Weight averaging against its recurrence, computed independently in float64. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { averagingDecay, updateAverage } from '../../src-main/engine/train/weight-average';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('weight averaging', () => {
  it('warms up as (1 + t)/(10 + t), then holds the configured decay', () => {
    expect(averagingDecay(0.99, 0)).toBeCloseTo(0.1, 12); // the first update is mostly the new weights
    expect(averagingDecay(0.99, 8)).toBeCloseTo(9 / 18, 12);
    expect(averagingDecay(0.99, 890)).toBeCloseTo(891 / 900, 12); // 0.99 reached at t = 890
    expect(averagingDecay(0.99, 891)).toBe(0.99);
    expect(averagingDecay(0.5, 100)).toBe(0.5);
  });

  it('follows avg ← d·avg + (1 − d)·w over a sequence of weights, element-wise', () => {
    const weights = tf.variable(tf.tensor1d([0, 0]), false);
    const average = tf.variable(tf.tensor1d([1, -1]), false); // the initial weights
    const expected = [1, -1];
    const tensorsBefore = tf.memory().numTensors;
    for (let t = 0; t < 40; t++) {
      const w = [Math.sin(t), t / 10];
      tf.tidy(() => weights.assign(tf.tensor1d(w)));
      updateAverage([average], [weights], 0.8, t);
      const d = averagingDecay(0.8, t);
      expected.forEach((a, i) => (expected[i] = d * a + (1 - d) * w[i]));
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const got = Array.from(average.dataSync());
    got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    // Not merely the latest weights: the average lags a trend (here w₁ = t/10, rising).
    expect(got[1]).toBeLessThan(3.9 - 0.1);
    tf.dispose([weights, average]);
  });
});
