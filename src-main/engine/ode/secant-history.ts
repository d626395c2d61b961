/**
 * Anderson acceleration's history of secant pairs (ΔF, ΔG), with ΔF kept as a thin QR factorisation
 * ΔF = Q·R (Walker & Ni 2011, §4): the mixing weights γ minimising ‖f − ΔF·γ‖ are then R⁻¹·Qᵀf, whose
 * error in float32 grows with cond(ΔF). The normal equations (ΔFᵀΔF)γ = ΔFᵀf this replaces square that
 * condition number, and on a stiff step ΔF is ill-conditioned by nature: its stiff components are h·|λ| times
 * the others. Measured at h = 0.1 on y' = diag(λ)(y − cos t), 10 rates from −1 to −1000, memory 10: implicit
 * Euler failed to converge in 50 iterations with the normal equations, and takes 12 evaluations per step with QR
 * (the n + 2 of GMRES on a linear problem with n distinct modes).
 *
 * Q's columns are orthonormalised by classical Gram–Schmidt twice ("twice is enough", Giraud et al. 2005): the
 * second pass removes what float32 round-off left of the first. Dropping the oldest pair re-triangularises R by
 * Givens rotations, applied to Q's columns as well. Q and R live on the tensors' side and in float64 JS numbers.
 *
 * In a gradient worker the vectors are the shard's rows: every dot product is summed across shards (as the
 * Gram matrix was), so every shard holds the same R and computes the same weights.
 */
import { tf, type Tensor } from '../tf';
import { normReduction } from './norm-reduction';

/**
 * A new ΔF whose part outside the history's span is below this fraction of its size adds only float32 noise
 * to Q (and a tiny R diagonal entry that would amplify it): such a pair is not kept.
 */
const DEPENDENT = 1e-5;

/** Sums per-shard partial dot products across a worker's shards (identity in a single process). */
function acrossShards(partial: Float64Array): Float64Array {
  const reduction = normReduction();
  return reduction ? reduction.allReduce(0, 0, partial).shared : partial;
}

/** Qᵀv for columns q (flattened tensors) and v, in float64. */
function dots(q: Tensor[], v: Tensor): Float64Array {
  const products = tf.tidy(() => tf.matMul(tf.stack(q), tf.reshape(v, [-1, 1])));
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

  constructor(private readonly memory: number) {}

  get size(): number {
    return this.q.length;
  }

  /** Adds a secant pair (taking ownership of both tensors), dropping the oldest pair past `memory`. */
  push(dF: Tensor, dG: Tensor): void {
    const magnitude = norm(dF);
    let v = dF;
    const coefficients = new Array<number>(this.size).fill(0);
    for (let pass = 0; pass < 2 && this.size > 0; pass++) {
      const c = dots(this.q, v);
      const projected = tf.tidy(() =>
        tf.sub(v, tf.reshape(tf.matMul(tf.tensor2d(Float32Array.from(c), [1, c.length]), tf.stack(this.q)), [-1])),
      );
      v.dispose();
      v = projected;
      c.forEach((value, i) => (coefficients[i] += value));
    }
    const rest = norm(v);
    if (!(rest > DEPENDENT * magnitude)) {
      tf.dispose([v, dG]);
      return;
    }
    this.q.push(tf.keep(tf.tidy(() => tf.div(v, rest))));
    v.dispose();
    this.r.forEach((row, i) => row.push(coefficients[i]));
    this.r.push([...new Array<number>(this.size - 1).fill(0), rest]);
    this.dG.push(tf.keep(dG));
    if (this.size > this.memory) this.dropOldest();
  }

  /** Weights γ minimising ‖f − ΔF·γ‖ (f flattened like the pairs). */
  weights(f: Tensor): number[] {
    const m = this.size;
    const qf = dots(this.q, f);
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
    tf.dispose([...this.q.splice(0), ...this.dG.splice(0)]);
    this.r = [];
  }

  /**
   * Removes the first column of ΔF = Q·R: R without it is upper Hessenberg; rotating rows (i, i+1) to zero each
   * sub-diagonal entry, and Q's columns (i, i+1) alike (Q·Gᵀ·G·R = Q·R), leaves a zero last row and column of Q
   * to drop.
   */
  private dropOldest(): void {
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
