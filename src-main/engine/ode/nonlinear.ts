/**
 * Solves the fixed-point equation Y = G(Y) of an implicit step by Anderson acceleration (Walker & Ni 2011,
 * type II) — plain fixed-point iteration when `memory` is 0. On a linear G, Anderson with an unbounded history
 * is equivalent to GMRES, so it converges where plain iteration diverges (stiff problems, h·L > 1), at one
 * evaluation per iteration. With `memory` secant pairs in float32 that holds for a few stiff modes, not for
 * many spread over decades: measured at h = 0.1 on y' = diag(λ)(y − cos t) with the default memory 5, 10 rates
 * from −1 to −100 converge in 11–17 evaluations per step, while 10 rates from −1 to −1000 defeat implicit Euler
 * and Crank–Nicolson (implicit Euler also with memory 10 or 20).
 */
import { tf, type Tensor } from '../tf';
import { LabError } from '../../../src-shared/errors';
import { nonFiniteError, passNote, userTime, type SolveSite } from './errors';
import { normReduction } from './norm-reduction';
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
 * Least-squares weights γ minimising ‖f − ΔF·γ‖ via the (Tikhonov-regularised) normal equations, solved in
 * float64 in JS: the system is at most `memory`×`memory`.
 */
function andersonWeights(dF: tf.Tensor2D, f: Tensor): number[] {
  const [gram, rhs] = tf.tidy(() => [tf.matMul(dF, dF, false, true), tf.matMul(dF, tf.reshape(f, [-1, 1]))]) as [
    Tensor,
    Tensor,
  ];
  const m = dF.shape[0];
  let A = Array.from(gram.dataSync());
  let b = Array.from(rhs.dataSync());
  tf.dispose([gram, rhs]);
  // In a gradient worker the products run over the whole batch: a shard's rows add to them like its squares add
  // to a norm (exact for per-sample states; the adjoint's shared dL/dθ rows count per shard, an approximation
  // that changes the mixing weights, not which decisions the shards take together).
  const reduction = normReduction();
  if (reduction) {
    const totals = reduction.allReduce(0, 0, Float64Array.from([...A, ...b])).shared;
    A = Array.from(totals.subarray(0, m * m));
    b = Array.from(totals.subarray(m * m));
  }
  const scale = Math.max(...A.filter((_, i) => i % (m + 1) === 0)) || 1;
  // The Gram matrix comes from float32 products (~1e-7 relative): regularise just above that noise.
  for (let i = 0; i < m; i++) A[i * m + i] += 1e-6 * scale;
  // Gaussian elimination with partial pivoting.
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(A[r * m + col]) > Math.abs(A[pivot * m + col])) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < m; c++) [A[col * m + c], A[pivot * m + c]] = [A[pivot * m + c], A[col * m + c]];
      [b[col], b[pivot]] = [b[pivot], b[col]];
    }
    const d = A[col * m + col];
    if (d === 0) continue;
    for (let r = col + 1; r < m; r++) {
      const factor = A[r * m + col] / d;
      for (let c = col; c < m; c++) A[r * m + c] -= factor * A[col * m + c];
      b[r] -= factor * b[col];
    }
  }
  const gamma = new Array<number>(m).fill(0);
  for (let r = m - 1; r >= 0; r--) {
    let s = b[r];
    for (let c = r + 1; c < m; c++) s -= A[r * m + c] * gamma[c];
    gamma[r] = A[r * m + r] === 0 ? 0 : s / A[r * m + r];
  }
  return gamma;
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
  const dFs: Tensor[] = [];
  const dGs: Tensor[] = [];
  let prevF: Tensor | undefined;
  let prevG: Tensor | undefined;
  let lastUpdate = Infinity;
  let bestResidual = Infinity;
  const release = () => tf.dispose([...dFs, ...dGs, prevF, prevG].filter((t) => t !== undefined));

  for (let iter = 1; iter <= opts.maxIters; iter++) {
    const g = G(x);
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
      const restart = opts.memory > 0 && dFs.length === opts.memory && residual > RESTART_GROWTH * bestResidual;
      bestResidual = Math.min(bestResidual, residual);
      if (restart) {
        tf.dispose([...dFs.splice(0), ...dGs.splice(0)]);
      } else if (opts.memory > 0 && prevF && prevG) {
        dFs.push(tf.keep(tf.sub(fFlat, prevF)));
        dGs.push(tf.keep(tf.sub(gFlat, prevG)));
        if (dFs.length > opts.memory) tf.dispose([dFs.shift()!, dGs.shift()!]);
      }
      tf.dispose([prevF, prevG].filter((t) => t !== undefined));
      prevF = tf.keep(fFlat);
      prevG = tf.keep(gFlat);
      if (dFs.length === 0) return g.map((p) => tf.clone(p)); // a plain fixed-point step: x ← G(x)
      const gamma = andersonWeights(tf.stack(dFs) as tf.Tensor2D, fFlat);
      const correction = tf.matMul(tf.reshape(tf.tensor1d(gamma), [1, -1]), tf.stack(dGs));
      return unflatten(tf.sub(gFlat, tf.reshape(correction, [-1])), x);
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
