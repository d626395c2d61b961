/**
 * Arithmetic on ODE states. A state is a tuple of tensors: a user's single tensor is a 1-tuple, the adjoint's
 * augmented state is [z, a, dL/dθ₁, …]. Norms run over every element of every part, as if concatenated.
 */
import { tf, type Tensor } from '../tf';

export type State = Tensor[];
/** The dynamics on tuple states. Callers count evaluations; solvers never call `f` behind the counter. */
export type StateDynamics = (t: number, y: State) => State;

/** y + h·Σ wⱼ·kⱼ, skipping zero weights (tableaus are sparse). */
export function axpy(y: State, h: number, weights: readonly number[], ks: readonly State[]): State {
  return y.map((part, p) => {
    const terms: Tensor[] = [part];
    weights.forEach((w, j) => {
      if (w !== 0 && j < ks.length) terms.push(tf.mul(ks[j][p], h * w));
    });
    return terms.length === 1 ? tf.clone(part) : tf.addN(terms);
  });
}

/** h·Σ wⱼ·kⱼ over the non-zero weights (the embedded error estimate). */
export function combination(h: number, weights: readonly number[], ks: readonly State[]): State {
  return ks[0].map((_, p) => {
    const terms = weights.flatMap((w, j) => (w !== 0 && j < ks.length ? [tf.mul(ks[j][p], h * w)] : []));
    return terms.length === 1 ? terms[0] : tf.addN(terms);
  });
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

/** RMS of x / (atol + rtol·|ref|) — the error norm of the step-size controller and the initial-step heuristic. */
export function scaledRms(x: State, ref: State, rtol: number, atol: number): number {
  const scaled = tf.tidy(() => x.map((part, p) => tf.div(part, tf.add(atol, tf.mul(rtol, tf.abs(ref[p]))))));
  const value = rms(scaled);
  tf.dispose(scaled);
  return value;
}

/** The controller's error ratio RMS(err / (atol + rtol·max(|y0|, |y1|))); ≤ 1 accepts the step. */
export function errorRatio(err: State, y0: State, y1: State, rtol: number, atol: number): number {
  // max(a, b) as a + relu(b − a): wasm's Maximum is a scalar loop, 10 ms on a 519k-element state, 30× Relu.
  const ref = tf.tidy(() =>
    y0.map((part, p) => {
      const a = tf.abs(part);
      return tf.add(a, tf.relu(tf.sub(tf.abs(y1[p]), a)));
    }),
  );
  const value = scaledRms(err, ref, rtol, atol);
  tf.dispose(ref);
  return value;
}

export function allFinite(y: State): boolean {
  const flag = tf.tidy(() => tf.all(tf.stack(y.map((p) => tf.all(tf.isFinite(p))))));
  const ok = flag.dataSync()[0] === 1;
  flag.dispose();
  return ok;
}
