/**
 * Arithmetic on ODE states. A state is a tuple of tensors: a user's single tensor is a 1-tuple, the adjoint's
 * augmented state is [z, a, dL/dθ₁, …]. Norms run over every element of every part, as if concatenated.
 */
import { hasFusedStateKernels, linearCombination, scaledSumSquares } from '../kernels/linear-combination';
import { tf, type Tensor } from '../tf';
import { normReduction, sharedPartsFrom } from './norm-reduction';

export type State = Tensor[];
/** The dynamics on tuple states. Callers count evaluations; solvers never call `f` behind the counter. */
export type StateDynamics = (t: number, y: State) => State;

/** Σⱼ cⱼ·tⱼ: one fused kernel on wasm, Multiply and AddN elsewhere (same rounding either way). */
function weightedSum(terms: Tensor[], coefficients: number[]): Tensor {
  if (hasFusedStateKernels()) return linearCombination(terms, coefficients);
  if (terms.length === 1 && coefficients[0] === 1) return tf.clone(terms[0]);
  const scaled = terms.map((t, j) => (coefficients[j] === 1 ? t : tf.mul(t, coefficients[j])));
  return scaled.length === 1 ? scaled[0] : tf.addN(scaled);
}

/** The non-zero weights' terms of part p (tableaus are sparse), each weight times h. */
function stageTerms(h: number, weights: readonly number[], ks: readonly State[], p: number): [Tensor[], number[]] {
  const terms: Tensor[] = [];
  const coefficients: number[] = [];
  weights.forEach((w, j) => {
    if (w !== 0 && j < ks.length) {
      terms.push(ks[j][p]);
      coefficients.push(h * w);
    }
  });
  return [terms, coefficients];
}

/** y + h·Σ wⱼ·kⱼ, skipping zero weights. */
export function axpy(y: State, h: number, weights: readonly number[], ks: readonly State[]): State {
  return y.map((part, p) => {
    const [terms, coefficients] = stageTerms(h, weights, ks, p);
    return weightedSum([part, ...terms], [1, ...coefficients]);
  });
}

/** h·Σ wⱼ·kⱼ over the non-zero weights (the embedded error estimate). */
export function combination(h: number, weights: readonly number[], ks: readonly State[]): State {
  return ks[0].map((_, p) => weightedSum(...stageTerms(h, weights, ks, p)));
}

export function subtract(a: State, b: State): State {
  return a.map((part, p) => tf.sub(part, b[p]));
}

/** Σ (x / (atol + rtol·max(|a|, |b|)))² over one part: the fused kernel on wasm, tfjs ops elsewhere. */
function partSumSquares(x: Tensor, a: Tensor, b: Tensor, rtol: number, atol: number): number {
  if (hasFusedStateKernels()) return scaledSumSquares(x, a, b, rtol, atol);
  const sum = tf.tidy(() => {
    // max(|a|, |b|) as |a| + relu(|b| − |a|): wasm's Maximum was a scalar loop, 30× slower than Relu.
    const absA = tf.abs(a);
    const ref = a === b ? absA : tf.add(absA, tf.relu(tf.sub(tf.abs(b), absA)));
    return tf.sum(tf.square(tf.div(x, tf.add(atol, tf.mul(rtol, ref)))));
  });
  const value = sum.dataSync()[0];
  sum.dispose();
  return value;
}

/** The same sum over float64 vectors (shared parts, already added up across shards). */
function vectorSumSquares(x: Float64Array, a: Float64Array, b: Float64Array, rtol: number, atol: number): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] / (atol + rtol * Math.max(Math.abs(a[i]), Math.abs(b[i])))) ** 2;
  return sum;
}

/**
 * RMS of x / (atol + rtol·max(|a|, |b|)) over every element of the state. In a gradient worker the sums run
 * over the whole batch (ode/norm-reduction.ts): per-sample parts add their squares, shared parts their values.
 */
function scaledRmsOf(x: State, a: State, b: State, rtol: number, atol: number): number {
  const reduction = normReduction();
  const split = reduction ? Math.min(sharedPartsFrom(), x.length) : x.length;
  let sum = 0;
  let count = 0;
  for (let p = 0; p < split; p++) {
    sum += partSumSquares(x[p], a[p], b[p], rtol, atol);
    count += x[p].size;
  }
  if (reduction) {
    const parts = x.slice(split);
    const shared = parts.reduce((n, t) => n + t.size, 0);
    const vectors = new Float64Array(3 * shared);
    [x, a, b].forEach((state, k) => {
      let offset = k * shared;
      for (const part of state.slice(split)) {
        vectors.set(part.dataSync(), offset);
        offset += part.size;
      }
    });
    const totals = reduction.allReduce(sum, count, vectors);
    const v = totals.shared;
    sum = totals.sum + vectorSumSquares(v.subarray(0, shared), v.subarray(shared, 2 * shared), v.subarray(2 * shared), rtol, atol);
    count = totals.count + shared;
  }
  return count === 0 ? 0 : Math.sqrt(sum / count);
}

/** RMS of x / (atol + rtol·|ref|) — the error norm of the initial-step heuristic and the implicit solves. */
export function scaledRms(x: State, ref: State, rtol: number, atol: number): number {
  return scaledRmsOf(x, ref, ref, rtol, atol);
}

/** The controller's error ratio RMS(err / (atol + rtol·max(|y0|, |y1|))); ≤ 1 accepts the step. */
export function errorRatio(err: State, y0: State, y1: State, rtol: number, atol: number): number {
  return scaledRmsOf(err, y0, y1, rtol, atol);
}

/** Whether every element of this thread's state is finite (0.5 ms for a 376k-float state on wasm). */
export function allFinite(y: State): boolean {
  const flag = tf.tidy(() => tf.all(tf.stack(y.map((p) => tf.all(tf.isFinite(p))))));
  const ok = flag.dataSync()[0] === 1;
  flag.dispose();
  return ok;
}

/**
 * allFinite over the whole batch: in a gradient worker every shard gets the same answer, so a solve that goes on
 * after asking goes on in every shard (a collective call, like the norms; see norm-reduction.ts).
 */
export function allFiniteInBatch(y: State): boolean {
  const local = allFinite(y);
  const reduction = normReduction();
  return reduction ? reduction.allReduce(local ? 0 : 1, 0, new Float64Array(0)).sum === 0 : local;
}
