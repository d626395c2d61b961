/**
 * Exponential moving average of a model's weights (Polyak averaging), the weights a run evaluates when its
 * config sets `emaDecay`. Adam at a large learning rate leaves the weights jumping around a minimum; their
 * recent average usually sits closer to it. The average is a second model of the same spec, so evaluating it
 * (locally or over a worker pool) is evaluating a model.
 */
import { tf, type Variable } from '../tf';

/**
 * The decay applied at update `t` (0-based): the configured one, but lower while few updates exist
 * ((1 + t)/(10 + t), as TensorFlow's ExponentialMovingAverage with num_updates), so the average forgets the
 * initial weights within a few updates instead of ~1/(1 − decay).
 */
export function averagingDecay(decay: number, t: number): number {
  return Math.min(decay, (1 + t) / (10 + t));
}

/** average ← d·average + (1 − d)·weights, with d = averagingDecay(decay, t); `t` is the update just applied, 0-based. */
export function updateAverage(average: Variable[], weights: Variable[], decay: number, t: number): void {
  const d = averagingDecay(decay, t);
  tf.tidy(() => average.forEach((a, i) => a.assign(tf.add(tf.mul(a, d), tf.mul(weights[i], 1 - d)))));
}
