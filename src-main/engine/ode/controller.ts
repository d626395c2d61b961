/**
 * Step-size control for the embedded pairs: I and PI controllers and the Hairer–Wanner first-step heuristic
 * (Hairer, Nørsett & Wanner, "Solving ODEs I", II.4).
 */
import { tf } from '../tf';
import { axpy, scaledRms, subtract, type State, type StateDynamics } from './state';

export const SAFETY = 0.9;
export const MIN_FACTOR = 0.2;
export const MAX_FACTOR = 10;

export interface ControllerState {
  kind: 'I' | 'PI';
  /** Exponent base: embedded order + 1. */
  k: number;
  /** Error ratio of the last accepted step, for the PI term. */
  previousRatio: number;
}

/** Factor by which to scale h after a step with this error ratio. */
export function stepFactor(ratio: number, accepted: boolean, c: ControllerState): number {
  if (!Number.isFinite(ratio)) return MIN_FACTOR;
  if (ratio === 0) return MAX_FACTOR;
  let factor: number;
  if (c.kind === 'PI' && accepted) {
    // Gustafsson's PI controller with the usual β₁ = 0.7/k, β₂ = 0.4/k.
    factor = SAFETY * ratio ** (-0.7 / c.k) * c.previousRatio ** (0.4 / c.k);
  } else {
    factor = SAFETY * ratio ** (-1 / c.k);
  }
  const upper = accepted ? MAX_FACTOR : 1;
  return Math.min(upper, Math.max(MIN_FACTOR, factor));
}

/**
 * First step size from the local behaviour of f at t0 (costs one evaluation besides f0, which the caller
 * reuses as the first stage).
 */
export function initialStepSize(
  f: StateDynamics,
  t0: number,
  y0: State,
  f0: State,
  k: number,
  rtol: number,
  atol: number,
): number {
  const d0 = scaledRms(y0, y0, rtol, atol);
  const d1 = scaledRms(f0, y0, rtol, atol);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const y1 = tf.tidy(() => axpy(y0, h0, [1], [f0]));
  const f1 = f(t0 + h0, y1);
  const df = subtract(f1, f0);
  const d2 = scaledRms(df, y0, rtol, atol) / h0;
  tf.dispose([y1, f1, df]);
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / k);
  return Math.min(100 * h0, h1);
}
