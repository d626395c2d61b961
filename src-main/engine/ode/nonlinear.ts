/**
 * Solves the fixed-point equation Y = G(Y) of an implicit step by Anderson acceleration (Walker & Ni 2011,
 * type II) — plain fixed-point iteration when `memory` is 0. On a linear G, Anderson with an unbounded history
 * is equivalent to GMRES, so it converges where plain iteration diverges (stiff problems, h·L > 1), at one
 * evaluation per iteration; with a history of `memory` pairs that holds for up to about `memory` distinct stiff
 * modes. Measured at h = 0.1 on y' = diag(λ)(y − cos t) with the default memory 10: 10 rates from −1 to −1000
 * converge in 11–12 evaluations per step; 20 rates need memory 20 (16–18 per step). The least squares behind
 * the mixing weights is solved by QR (secant-history.ts), which a stiff step's ill-conditioned history needs.
 */
import { tf, type Tensor } from '../tf';
import { LabError } from '../../../src-shared/errors';
import { nonFiniteError, passNote, userTime, type SolveSite } from './errors';
import { SecantHistory } from './secant-history';
import { scaledRms, subtract, type State } from './state';

export interface FixedPointOptions {
  tol: number;
  maxIters: number;
  memory: number;
  /** Where the solve happens (the step's start and size), for the error message. */
  where: SolveSite & { stepSize: number };
}

/**
 * Scaled size of an update or residual: RMS(Δ / (1 + |x|)), i.e. relative for large entries, absolute for small
 * ones — the controller's norm with rtol = atol = 1.
 */
export function updateSize(delta: State, x: State): number {
  return scaledRms(delta, x, 1, 1);
}

/** Flattens a state into one vector, so that histories are plain matrices. */
function flatten(y: State): Tensor {
  return tf.concat(y.map((p) => tf.reshape(p, [-1])));
}

function unflatten(v: tf.Tensor, like: State): State {
  let offset = 0;
  return like.map((p) => {
    const part = tf.reshape(tf.slice(v, [offset], [p.size]), p.shape);
    offset += p.size;
    return part;
  });
}

/**
 * Restart when, with a full history, the residual is this many times the smallest one of the solve: the
 * accelerated iteration is then diverging (a stale history on a nonlinear G, or float32 noise steering it).
 */
const RESTART_GROWTH = 10;

export interface FixedPointResult {
  solution: State;
  iterations: number;
}

/**
 * Iterates x ← G(x) from x0 (not disposed) until the update is below `tol`. Each G call is one evaluation of the
 * dynamics, counted by the caller's G. Throws NONLINEAR_SOLVE_FAILED when it does not converge.
 */
export function solveFixedPoint(G: (x: State) => State, x0: State, opts: FixedPointOptions): FixedPointResult {
  let x = x0.map((p) => tf.clone(p));
  const history = new SecantHistory(opts.memory);
  let prevF: Tensor | undefined;
  let prevG: Tensor | undefined;
  let lastUpdate = Infinity;
  let bestResidual = Infinity;
  const release = () => {
    history.dispose();
    tf.dispose([prevF, prevG].filter((t) => t !== undefined));
  };

  for (let iter = 1; iter <= opts.maxIters; iter++) {
    let g: State;
    try {
      g = G(x);
    } catch (e) {
      // The user's f, or a peer shard's failure met at a collective call: the history is not tidy()'s to free.
      release();
      tf.dispose(x);
      throw e;
    }
    const next = tf.tidy(() => {
      const fParts = subtract(g, x);
      const gFlat = flatten(g);
      const fFlat = flatten(fParts);
      // Safeguard: restart from a plain fixed-point step (dropping the history) when the accelerated iteration
      // diverges, not whenever the residual grows. On a stiff step (‖c·∂f/∂Y‖ > 1) a plain step multiplies the
      // residual by up to that norm, so growth while the history fills is expected, and the secant pairs are what
      // lets Anderson converge (GMRES-like, above); restarting on every growth left nothing but plain, diverging
      // steps. Measured at h = 0.1 on y' = diag(λ)(y − cos t): one rate λ = −1000, implicit Euler 9.5 → 4.1
      // evaluations per step; 5 or 10 rates from −1 to −100, every implicit method failed → 9–17 per step. On
      // non-stiff dynamics (MLP, GroupNorm conv, sin) neither rule restarted: same evaluations, and at
      // implicitTol 2e-8 the old rule's restarts made y' = 2 sin(y + t) at h = 0.2 fail where this converges.
      // By parts, not flattened: a worker's norm must tell per-sample parts from shared ones (norm-reduction.ts).
      const residual = updateSize(fParts, g);
      const restart = opts.memory > 0 && history.offered >= opts.memory && residual > RESTART_GROWTH * bestResidual;
      bestResidual = Math.min(bestResidual, residual);
      if (restart) {
        history.clear();
      } else if (opts.memory > 0 && prevF && prevG) {
        history.push(tf.sub(fFlat, prevF), tf.sub(gFlat, prevG));
      }
      tf.dispose([prevF, prevG].filter((t) => t !== undefined));
      prevF = tf.keep(fFlat);
      prevG = tf.keep(gFlat);
      if (history.size === 0) return g.map((p) => tf.clone(p)); // a plain fixed-point step: x ← G(x)
      return unflatten(tf.sub(gFlat, history.correction(history.weights(fFlat))), x);
    });
    tf.dispose(g);
    const delta = subtract(next, x);
    const update = updateSize(delta, next);
    tf.dispose([...delta, ...x]);
    x = next;
    lastUpdate = update;
    if (!Number.isFinite(update)) {
      // From the first iteration: x0 (the predictor from the state) or f at it is not finite, which no
      // iteration or step size mends. Later: the iteration diverged (NONLINEAR_SOLVE_FAILED below).
      if (iter === 1) {
        release();
        tf.dispose(x);
        const what = `the ${opts.where.method} step's first iterate is NaN or infinite (the state or f(t, y) is not finite)`;
        throw nonFiniteError(what, opts.where, { stepSize: opts.where.stepSize });
      }
      break;
    }
    if (update <= opts.tol) {
      release();
      return { solution: x, iterations: iter };
    }
  }
  release();
  tf.dispose(x);
  const { stepSize, method, reversed } = opts.where;
  const t = userTime(opts.where.t, reversed);
  throw new LabError(
    'NONLINEAR_SOLVE_FAILED',
    `${method} step at t=${t.toPrecision(6)}${passNote(reversed)} (step size ${stepSize.toPrecision(4)}) did not converge in ` +
      `${opts.maxIters} iterations: last update ${lastUpdate.toPrecision(3)} > tolerance ${opts.tol}. ` +
      'Use a smaller step size or a looser implicitTol.',
    { t, stepSize, method, iterations: opts.maxIters, lastUpdate, tol: opts.tol },
  );
}
