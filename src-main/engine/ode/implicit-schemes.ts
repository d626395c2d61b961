/**
 * One-stage implicit methods as data. Each step solves for one stage value Y
 *     Y = y0 + h·w0·f(t0, y0) + h·γ·f(t0 + c·h, Y)
 * and then sets y1 = y0 + s·(Y − y0). With (w0, γ, c, s):
 *   implicit Euler     (0, 1,   1,   1):  y1 = y0 + h·f(t1, y1)
 *   Crank–Nicolson     (½, ½,   1,   1):  y1 = y0 + h/2·(f(t0, y0) + f(t1, y1))      (trapezoidal rule)
 *   implicit midpoint  (0, ½,   ½,   2):  Y = (y0 + y1)/2, y1 = y0 + h·f(t0 + h/2, Y)
 */
import type { MethodName } from '../../../src-shared/solvers';

export interface ImplicitScheme {
  /** Weight of the explicit slope f(t0, y0) (costs one evaluation per step when non-zero). */
  w0: number;
  gamma: number;
  c: number;
  /** Extrapolation from the stage to the step's end. */
  s: number;
}

export const IMPLICIT_SCHEMES: Partial<Record<MethodName, ImplicitScheme>> = {
  'implicit-euler': { w0: 0, gamma: 1, c: 1, s: 1 },
  'crank-nicolson': { w0: 0.5, gamma: 0.5, c: 1, s: 1 },
  'implicit-midpoint': { w0: 0, gamma: 0.5, c: 0.5, s: 2 },
};
