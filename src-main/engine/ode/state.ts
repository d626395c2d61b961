/**
 * Arithmetic on ODE states. A state is a tuple of tensors: a user's single tensor is a 1-tuple, the adjoint's
 * augmented state is [z, a, dL/dθ₁, …]. Norms run over every element of every part, as if concatenated.
 */
import { hasFusedStateKernels, linearCombination, scaledSumSquares } from '../kernels/linear-combination';
import { tf, type Tensor } from '../tf';

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

function elementCount(y: State): number {
  return y.reduce((n, part) => n + part.size, 0);
}

/** Root-mean-square over all elements of `parts` (already scaled), read back as a number. */
export function rms(parts: State): number {
  const n = elementCount(parts);
  if (n === 0) return 0;
  const sumSquares = tf.tidy(() => tf.addN(parts.map((p) => tf.sum(tf.square(p)))));
  const value = sumSquares.dataSync()[0];
  sumSquares.dispose();
  return Math.sqrt(value / n);
}

/** RMS of x / (atol + rtol·max(|a|, |b|)) over every element of the state. */
function scaledRmsOf(x: State, a: State, b: State, rtol: number, atol: number): number {
  const n = elementCount(x);
  if (n === 0) return 0;
  if (hasFusedStateKernels()) {
    const sum = x.reduce((acc, part, p) => acc + scaledSumSquares(part, a[p], b[p], rtol, atol), 0);
    return Math.sqrt(sum / n);
  }
  // max(|a|, |b|) as |a| + relu(|b| − |a|): wasm's Maximum was a scalar loop, 30× slower than Relu.
  const scaled = tf.tidy(() =>
    x.map((part, p) => {
      const absA = tf.abs(a[p]);
      const ref = a[p] === b[p] ? absA : tf.add(absA, tf.relu(tf.sub(tf.abs(b[p]), absA)));
      return tf.div(part, tf.add(atol, tf.mul(rtol, ref)));
    }),
  );
  const value = rms(scaled);
  tf.dispose(scaled);
  return value;
}

/** RMS of x / (atol + rtol·|ref|) — the error norm of the initial-step heuristic and the implicit solves. */
export function scaledRms(x: State, ref: State, rtol: number, atol: number): number {
  return scaledRmsOf(x, ref, ref, rtol, atol);
}

/** The controller's error ratio RMS(err / (atol + rtol·max(|y0|, |y1|))); ≤ 1 accepts the step. */
export function errorRatio(err: State, y0: State, y1: State, rtol: number, atol: number): number {
  return scaledRmsOf(err, y0, y1, rtol, atol);
}

export function allFinite(y: State): boolean {
  const flag = tf.tidy(() => tf.all(tf.stack(y.map((p) => tf.all(tf.isFinite(p))))));
  const ok = flag.dataSync()[0] === 1;
  flag.dispose();
  return ok;
}
