/** Weight averaging against its definition, Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ, computed independently in float64. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { averageRetention, updateAverage } from '../../src-main/engine/train/weight-average';
import { expectedAverage } from './fixtures';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('weight averaging', () => {
  it('keeps nothing of the initial weights at the first update, and tends to the decay', () => {
    expect(averageRetention(0.99, 1)).toBe(0);
    expect(averageRetention(0.5, 2)).toBeCloseTo(0.5 * 0.5 / 0.75, 12); // (w₂ + ½w₁)/1.5: w₁ keeps ⅓
    expect(averageRetention(0.99, 2000)).toBeCloseTo(0.99, 8);
  });

  it('equals Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ after every update, element-wise', () => {
    const weights = tf.variable(tf.tensor1d([0, 0]), false);
    const average = tf.variable(tf.tensor1d([1e3, -1e3]), false); // the initial weights: must not count
    const tensorsBefore = tf.memory().numTensors;
    const seen: number[][] = [];
    for (let n = 1; n <= 40; n++) {
      const w = [Math.sin(n), n / 10];
      seen.push(w);
      tf.tidy(() => weights.assign(tf.tensor1d(w)));
      updateAverage([average], [weights], 0.8, n);
      const expected = expectedAverage(seen, 0.8);
      Array.from(average.dataSync()).forEach((g, j) => expect(g, `update ${n}`).toBeCloseTo(expected[j], 4));
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    // Not merely the latest weights: the average lags a trend (w₁ = n/10 rising to 4; lag d/(1 − d)·0.1 = 0.4).
    expect(average.dataSync()[1]).toBeCloseTo(3.6, 2);
    tf.dispose([weights, average]);
  });
});
