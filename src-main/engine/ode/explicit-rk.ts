/** One step of any explicit Runge–Kutta tableau. */
import { tf } from '../tf';
import type { ButcherTableau } from './tableaus';
import { axpy, combination, type State, type StateDynamics } from './state';

export interface RkStepResult {
  y1: State;
  /** Local error estimate h·Σ eᵢkᵢ (embedded pairs only). */
  err?: State;
  /** f(t + h, y1) for FSAL tableaus: the next step's first stage. */
  fLast?: State;
}

/**
 * Takes one step from (t, y) of size h. `f0` = f(t, y) when the caller already has it (FSAL or the first-step
 * heuristic); it is not disposed here. All stage tensors are released except what the result holds.
 */
export function rkStep(
  f: StateDynamics,
  tab: ButcherTableau,
  t: number,
  y: State,
  h: number,
  f0?: State,
): RkStepResult {
  const [y1, err, fLast] = tf.tidy(() => {
    const ks: State[] = [f0 ?? f(t, y)];
    let last: State | undefined;
    for (let i = 1; i < tab.c.length; i++) {
      const yi = axpy(y, h, tab.a[i], ks);
      ks.push(f(t + tab.c[i] * h, yi));
      // In FSAL tableaus the last stage is evaluated at the solution itself.
      if (tab.fsal && i === tab.c.length - 1) last = yi;
    }
    const solution = last ?? axpy(y, h, tab.b, ks);
    const estimate = tab.e ? combination(h, tab.e, ks) : [];
    return [solution, estimate, tab.fsal ? ks[ks.length - 1] : []];
  }) as [State, State, State];
  return { y1, err: err.length ? err : undefined, fLast: fLast.length ? fLast : undefined };
}
