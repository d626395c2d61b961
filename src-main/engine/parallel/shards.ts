/** Fixed, contiguous sharding of a batch and the exact recombination of shard results into the batch's. */
import type { GradientResult, ShardOdeStats } from './protocol';

export interface ShardRange {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * `n` rows split into at most `parts` contiguous, non-empty shards whose sizes differ by at most one. Depends only
 * on (n, parts), so the same batch is always split the same way — part of what makes parallel steps repeatable.
 */
export function shardRanges(n: number, parts: number): ShardRange[] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => ({ start: Math.floor((i * n) / k), end: Math.floor(((i + 1) * n) / k) }));
}

export interface CombinedGradients {
  /** Mean loss over the whole batch. */
  loss: number;
  correct: number;
  /** Gradient of the batch's mean loss, one array per parameter. */
  grads: Float32Array[];
}

/**
 * The batch's mean loss is Σᵢ (nᵢ/n)·meanᵢ; its gradient the sum of the shards' gradients, each already of
 * (nᵢ/n)·meanᵢ. Accumulated in float64 in shard order, so the only rounding beyond the shards' own is one float32
 * cast at the end.
 */
export function combineShards(shards: { size: number; result: GradientResult }[]): CombinedGradients {
  const n = shards.reduce((s, x) => s + x.size, 0);
  const acc = shards[0].result.grads.map((g) => new Float64Array(g.length));
  let loss = 0;
  let correct = 0;
  for (const { size, result } of shards) {
    loss += (size / n) * result.loss;
    correct += result.correct;
    result.grads.forEach((g, j) => {
      const a = acc[j];
      for (let k = 0; k < g.length; k++) a[k] += g[k];
    });
  }
  return { loss, correct, grads: acc.map((a) => Float32Array.from(a)) };
}

/** A shard's statistics summed over the model's ODE solves, as the trainer reports one batch. */
export function totalStats(stats: ShardOdeStats[]): ShardOdeStats {
  const sum = (key: keyof ShardOdeStats) => stats.reduce((s, x) => s + x[key], 0);
  return {
    nfeForward: sum('nfeForward'),
    nfeBackward: sum('nfeBackward'),
    stepsAccepted: sum('stepsAccepted'),
    stepsRejected: sum('stepsRejected'),
  };
}
