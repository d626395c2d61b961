/**
 * Anderson acceleration's history of secant pairs (ΔF, ΔG), with ΔF kept as a thin QR factorisation
 * ΔF = Q·R (Walker & Ni 2011, §4): the mixing weights γ minimising ‖f − ΔF·γ‖ are then R⁻¹·Qᵀf, whose
 * error in float32 grows with cond(ΔF). The normal equations (ΔFᵀΔF)γ = ΔFᵀf this replaces square that
 * condition number, and on a stiff step ΔF is ill-conditioned by nature: its stiff components are h·|λ| times
 * the others. Measured at h = 0.1 on y' = diag(λ)(y − cos t), 10 rates from −1 to −1000, memory 10: implicit
 * Euler failed to converge in 50 iterations with the normal equations, and takes 12 evaluations per step with QR
 * (the n + 2 of GMRES on a linear problem with n distinct modes).
 *
 * Q's columns are orthonormalised by classical Gram–Schmidt, twice when the first pass cancelled most of the
 * vector ("twice is enough", Giraud et al. 2005): the second pass removes what float32 round-off left of the
 * first. Dropping the oldest pair re-triangularises R by Givens rotations, applied to Q's columns as well. Q lives
 * on the tensors' side, R in float64 JS numbers.
 *
 * In a gradient worker the vectors are the shard's rows: every dot product is summed across shards (as the
 * Gram matrix was), so every shard holds the same R and computes the same weights.
 */
import { tf, type Tensor } from '../tf';
import { normReduction } from './norm-reduction';

/**
 * A new ΔF whose part outside the history's span is below this fraction of its size would add only float32 noise
 * to Q (and a tiny R diagonal entry that would amplify it): the oldest pairs make room until it is independent.
 */
const DEPENDENT = 1e-5;

/** Sums per-shard partial dot products across a worker's shards (identity in a single process). */
function acrossShards(partial: Float64Array): Float64Array {
  const reduction = normReduction();
  return reduction ? reduction.allReduce(0, 0, partial).shared : partial;
}

/** Qᵀv in float64, for Q's columns stacked as the rows of `qRows` and a flattened v. */
function dots(qRows: Tensor, v: Tensor): Float64Array {
  const products = tf.tidy(() => tf.matMul(qRows as tf.Tensor2D, tf.reshape(v, [-1, 1])));
  const values = Float64Array.from(products.dataSync());
  products.dispose();
  return acrossShards(values);
}

function norm(v: Tensor): number {
  const square = tf.tidy(() => tf.sum(tf.square(v)));
  const value = square.dataSync()[0];
  square.dispose();
  return Math.sqrt(acrossShards(Float64Array.of(value))[0]);
}

/** The history's tensors are tf.keep()-ed: it outlives the tf.tidy scope of the iteration that adds to it. */
export class SecantHistory {
  /** Orthonormal columns spanning the kept ΔF, flattened. */
  private q: Tensor[] = [];
  /** Upper-triangular R of ΔF = Q·R: r[i][j], i ≤ j. */
  private r: number[][] = [];
  /** ΔG of the kept pairs, oldest first, flattened. */
  private dG: Tensor[] = [];

  /** Q's columns stacked as rows: built once per change of Q, for the three or more products with it per push. */
  private stacked: Tensor | undefined;

  constructor(private readonly memory: number) {}

  private qRows(): Tensor {
    this.stacked ??= tf.keep(tf.stack(this.q));
    return this.stacked;
  }

  /** Q changed: the stacked copy is stale. */
  private qChanged(): void {
    this.stacked?.dispose();
    this.stacked = undefined;
  }

  get size(): number {
    return this.q.length;
  }

  private offeredSinceClear = 0;

  /** Pairs offered since the last clear(), kept or not (the restart rule's "full history"). */
  get offered(): number {
    return this.offeredSinceClear;
  }

  /**
   * Adds a secant pair (taking ownership of both tensors), dropping the oldest pair past `memory`. A ΔF (nearly)
   * in the span of the history makes room by dropping the oldest pairs until it is independent (Walker & Ni
   * 2011, §4, drop from the left): the newest pair carries the Jacobian at the current iterate, and a history
   * that already spans the state would otherwise never change again.
   */
  push(dF: Tensor, dG: Tensor): void {
    this.offeredSinceClear++;
    const magnitude = norm(dF);
    for (;;) {
      let v = dF;
      let rest = magnitude;
      const coefficients = new Array<number>(this.size).fill(0);
      // A second pass only when the first removed most of v (Kahan–Parlett: a part left above 1/√2 of what went in
      // is orthogonal to working precision already), which a well-conditioned history seldom needs.
      for (let pass = 0; pass < 2 && this.size > 0; pass++) {
        const before = rest;
        const c = dots(this.qRows(), v);
        const projected = tf.tidy(() =>
          tf.sub(v, tf.reshape(tf.matMul(tf.tensor2d(Float32Array.from(c), [1, c.length]), this.qRows() as tf.Tensor2D), [-1])),
        );
        if (v !== dF) v.dispose();
        v = projected;
        c.forEach((value, i) => (coefficients[i] += value));
        rest = norm(v);
        if (rest > before / Math.SQRT2) break;
      }
      if (rest > DEPENDENT * magnitude) {
        this.q.push(tf.keep(tf.tidy(() => tf.div(v, rest))));
        this.qChanged();
        tf.dispose(v === dF ? [dF] : [v, dF]);
        this.r.forEach((row, i) => row.push(coefficients[i]));
        this.r.push([...new Array<number>(this.size - 1).fill(0), rest]);
        this.dG.push(tf.keep(dG));
        if (this.size > this.memory) this.dropOldest();
        return;
      }
      if (v !== dF) v.dispose();
      // A zero or non-finite ΔF is not kept (and costs the history nothing). Every test here is on totals across
      // shards, so all shards take the same branch.
      if (this.size === 0 || !(magnitude > 0) || !Number.isFinite(rest)) {
        tf.dispose([dF, dG]);
        return;
      }
      this.dropOldest();
    }
  }

  /** Weights γ minimising ‖f − ΔF·γ‖ (f flattened like the pairs). */
  weights(f: Tensor): number[] {
    const m = this.size;
    const qf = dots(this.qRows(), f);
    const gamma = new Array<number>(m).fill(0);
    for (let i = m - 1; i >= 0; i--) {
      let s = qf[i];
      for (let j = i + 1; j < m; j++) s -= this.r[i][j] * gamma[j];
      gamma[i] = s / this.r[i][i];
    }
    return gamma;
  }

  /** ΔG·γ, flattened. */
  correction(gamma: readonly number[]): Tensor {
    return tf.tidy(() =>
      tf.reshape(tf.matMul(tf.tensor2d([...gamma], [1, gamma.length], 'float32'), tf.stack(this.dG)), [-1]),
    );
  }

  clear(): void {
    this.offeredSinceClear = 0;
    this.qChanged();
    tf.dispose([...this.q.splice(0), ...this.dG.splice(0)]);
    this.r = [];
  }

  /**
   * Removes the first column of ΔF = Q·R: R without it is upper Hessenberg; rotating rows (i, i+1) to zero each
   * sub-diagonal entry, and Q's columns (i, i+1) alike (Q·Gᵀ·G·R = Q·R), leaves a zero last row and column of Q
   * to drop.
   */
  private dropOldest(): void {
    this.qChanged();
    const r = this.r.map((row) => row.slice(1));
    const q = this.q;
    for (let i = 0; i < r.length - 1; i++) {
      const rho = Math.hypot(r[i][i], r[i + 1][i]);
      if (rho === 0) continue; // unreachable for independent columns; keeps c and s finite
      const c = r[i][i] / rho;
      const s = r[i + 1][i] / rho;
      for (let j = i; j < r[i].length; j++) {
        const [upper, lower] = [r[i][j], r[i + 1][j]];
        r[i][j] = c * upper + s * lower;
        r[i + 1][j] = c * lower - s * upper;
      }
      const [upper, lower] = [q[i], q[i + 1]];
      q[i] = tf.keep(tf.tidy(() => tf.add(tf.mul(upper, c), tf.mul(lower, s))));
      q[i + 1] = tf.keep(tf.tidy(() => tf.sub(tf.mul(lower, c), tf.mul(upper, s))));
      tf.dispose([upper, lower]);
    }
    q.pop()!.dispose();
    this.r = r.slice(0, -1);
    this.dG.shift()!.dispose();
  }

  dispose(): void {
    this.clear();
  }
}
