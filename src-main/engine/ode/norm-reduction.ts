/**
 * Error norms across the shards of a batch. A gradient worker solves its shard of the batch, but the solver's
 * decisions (accept a step, the next step size, the first step, an implicit iteration converged) must be the
 * ones a single process would take for the whole batch: otherwise each shard takes its own steps, the model
 * trained depends on the worker count, and the slowest shard sets the pace. So every norm is a sum over all
 * shards: each shard adds its part, all receive the same totals and take the same decision — the one a single
 * process takes, up to the float rounding of summing in another order.
 *
 * A state's parts are per-sample (z, and the adjoint's a: rows of the batch, so squares add up across shards)
 * or shared (the adjoint's dL/dθ: each shard holds its share of one vector, so the vectors add up first).
 */

export interface ShardTotals {
  sum: number;
  count: number;
  /** Elementwise sums of every shard's `shared` vector. */
  shared: Float64Array;
}

export interface NormReduction {
  /**
   * Sums `sum` and `count` over every shard, and `shared` elementwise; every shard receives the same totals.
   * Called at the same points, in the same order, by every shard of a batch.
   */
  allReduce(sum: number, count: number, shared: Float64Array): ShardTotals;
}

let active: NormReduction | undefined;
let sharedFrom = Infinity;

/** Installed by a gradient worker for its thread (undefined: this thread solves whole batches). */
export function setNormReduction(reduction: NormReduction | undefined): void {
  active = reduction;
}

export function normReduction(): NormReduction | undefined {
  return active;
}

/** Index of a state's first shared part while `withSharedParts` runs; Infinity (none) otherwise. */
export function sharedPartsFrom(): number {
  return sharedFrom;
}

/** Runs `fn` with the states' parts from index `from` on treated as shared across shards. */
export function withSharedParts<T>(from: number, fn: () => T): T {
  const previous = sharedFrom;
  sharedFrom = from;
  try {
    return fn();
  } finally {
    sharedFrom = previous;
  }
}
