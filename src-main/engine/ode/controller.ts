/**
 * Step-size control for the embedded pairs: I and PI controllers and the Hairer–Wanner first-step heuristic
 * (Hairer, Nørsett & Wanner, "Solving ODEs I", II.4).
 */
import { tf } from '../tf';
import { allFiniteInBatch, axpy, scaledRms, subtract, type State, type StateDynamics } from './state';

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

/** The heuristic's smallest first step, also its answer when the norms give it no scale. */
const SMALLEST_FIRST_STEP = 1e-6;

/**
 * First step size from the local behaviour of f at t0 (costs one evaluation besides f0, which the caller
 * reuses as the first stage). Always finite and positive: a non-finite y0 or f0 throws `nonFinite(which)`.
 */
export function initialStepSize(
  f: StateDynamics,
  t0: number,
  y0: State,
  f0: State,
  k: number,
  rtol: number,
  atol: number,
  nonFinite: (which: 'state' | 'dynamics') => Error,
): number {
  const d0 = scaledRms(y0, y0, rtol, atol);
  const d1 = scaledRms(f0, y0, rtol, atol);
  if (!Number.isFinite(d0) || !Number.isFinite(d1)) {
    // NaN or ∞ in y0 or f0, or squares beyond float32 (tolerances far below the state's scale): on this rare
    // path a check of the values themselves tells which. No step size can mend the first two.
    if (!allFiniteInBatch(y0)) throw nonFinite('state');
    if (!allFiniteInBatch(f0)) throw nonFinite('dynamics');
    return SMALLEST_FIRST_STEP;
  }
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? SMALLEST_FIRST_STEP : (0.01 * d0) / d1;
  const y1 = tf.tidy(() => axpy(y0, h0, [1], [f0]));
  const f1 = f(t0 + h0, y1);
  const df = subtract(f1, f0);
  const d2 = scaledRms(df, y0, rtol, atol) / h0;
  tf.dispose([y1, f1, df]);
  // f is not finite (or overflows) a step h0 ahead: no curvature to go by. Try h0; the loop rejects and shrinks
  // a trial that is not finite (integrate.ts). Without this, d2 = ∞ gives h = 0 and d2 = NaN gives NaN.
  if (!Number.isFinite(d2)) return h0;
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(SMALLEST_FIRST_STEP, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / k);
  return Math.min(100 * h0, h1);
}
