/** One step of a one-stage implicit scheme (see implicit-schemes.ts), with its nonlinear solve. */
import { tf, type Tensor, type Variable } from '../tf';
import type { SolveSite } from './errors';
import { solveStageWithImplicitGradient } from './implicit-gradient';
import type { ImplicitScheme } from './implicit-schemes';
import { solveFixedPoint } from './nonlinear';
import { axpy, type State, type StateDynamics } from './state';

export interface ImplicitSolveOptions {
  tol: number;
  maxIters: number;
  memory: number;
  /** Where this step is, for errors. */
  site: SolveSite;
  /**
   * Direct-mode gradients: the parameters of f (and f for the backward pass), for the implicit-function-theorem
   * gradient of the stage (single-tensor states: odeint's direct mode). Absent, the solve is off the tape (the
   * adjoint's passes): differentiating through its iterations would be wrong, Anderson's mixing weights being
   * numbers read back from the tensors, constants to a tape.
   */
  gradient?: { params: Variable[]; dynamics: StateDynamics };
  /**
   * The previous step's mean slope (y0 − y_prev)/h_prev, when the scheme has no explicit slope of its own: the
   * predictor extrapolates with it instead of starting from y0 (one Anderson iteration fewer per step, measured).
   */
  previousSlope?: State;
}

export function implicitStep(
  f: StateDynamics,
  scheme: ImplicitScheme,
  t: number,
  y: State,
  h: number,
  opts: ImplicitSolveOptions,
): { y1: State; iterations: number } {
  const f0 = scheme.w0 !== 0 ? f(t, y) : undefined;
  const base = f0 ? tf.tidy(() => axpy(y, h, [scheme.w0], [f0])) : y;
  const tau = t + scheme.c * h;
  const G = (Y: State): State => {
    const fY = f(tau, Y);
    const out = tf.tidy(() => axpy(base, h * scheme.gamma, [1], [fY]));
    tf.dispose(fY);
    return out;
  };
  // Predictor: an explicit Euler step to the stage time, with f0 when it is at hand, else with the previous
  // step's slope; y itself on a first step.
  const slope = f0 ?? opts.previousSlope;
  const guess = slope ? tf.tidy(() => axpy(y, h * scheme.c, [1], [slope])) : y;
  const solve = { tol: opts.tol, maxIters: opts.maxIters, memory: opts.memory, where: { ...opts.site, stepSize: h } };
  let solution: State;
  let iterations = 0;
  try {
    if (opts.gradient) {
      if (y.length !== 1) throw new Error(`implicit-function-theorem gradient of a ${y.length}-part state: odeint's direct mode has one`);
      const backward = opts.gradient.dynamics;
      const stage = {
        f: (x: Tensor) => f(tau, [x])[0],
        fBackward: (x: Tensor) => backward(tau, [x])[0],
        c: h * scheme.gamma,
        params: opts.gradient.params,
        solve,
      };
      solution = [solveStageWithImplicitGradient(base[0], guess[0], stage)];
    } else {
      ({ solution, iterations } = solveFixedPoint(G, guess, solve));
    }
  } finally {
    // The step's temporaries, also when the solve fails (tensors the tape needs are kept by tfjs itself).
    if (f0) tf.dispose([...f0, ...base]);
    if (guess !== y) tf.dispose(guess);
  }
  const y1 =
    scheme.s === 1
      ? solution
      : tf.tidy(() => solution.map((Y, p) => tf.add(y[p], tf.mul(tf.sub(Y, y[p]), scheme.s))));
  if (y1 !== solution) tf.dispose(solution);
  return { y1, iterations };
}
