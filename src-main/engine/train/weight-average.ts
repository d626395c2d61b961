/**
 * Exponential moving average of a model's weights (Polyak averaging), the weights a run evaluates when its
 * config sets `emaDecay`. Adam at a large learning rate leaves the weights jumping around a minimum; their
 * recent average usually sits closer to it. The average is a second model of the same spec, so evaluating it
 * (locally or over a worker pool) is evaluating a model.
 *
 * After n updates with weights w₁ … wₙ the average is Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ: bias-corrected as Adam's moments are,
 * so the initial weights carry no weight and the decay means what it says from the first update on.
 */
import { tf, type Variable } from '../tf';

/**
 * The share of the old average when folding in update number `n` (1-based) by avg ← a·avg + (1 − a)·w:
 * a = d·(1 − dⁿ⁻¹)/(1 − dⁿ), which keeps avg the normalised sum above (a = 0 at n = 1, → d as n grows).
 */
export function averageRetention(decay: number, n: number): number {
  return (decay * (1 - decay ** (n - 1))) / (1 - decay ** n);
}

/** Folds `weights` into `average` as the n-th averaged update (1-based). */
export function updateAverage(average: Variable[], weights: Variable[], decay: number, n: number): void {
  const a = averageRetention(decay, n);
  tf.tidy(() => average.forEach((avg, i) => avg.assign(tf.add(tf.mul(avg, a), tf.mul(weights[i], 1 - a)))));
}
