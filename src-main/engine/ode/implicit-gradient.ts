/**
 * Gradient of an implicit stage by the implicit function theorem, instead of backpropagating through every
 * nonlinear iteration (which keeps each iteration's tensors, and Anderson's histories, on the tape: gigabytes for
 * a 20-step solve of a conv net). The stage solves Y = b + c·f(Y; θ). Given v = dL/dY, the adjoint equation
 *     w = v + c·(∂f/∂Y)ᵀ w
 * is solved like the stage itself, by Anderson acceleration (solveFixedPoint) with the same memory and
 * tolerance. It is linear, its iteration matrix the transpose of the forward iteration's Jacobian c·∂f/∂Y at the
 * solution (the same eigenvalues), so Anderson meets the spectrum it met solving the stage. Plain iteration
 * would need that matrix's eigenvalues inside the unit disc, which is what a stiff step breaks: on
 * y' = λ(y − cos t) at h = 0.1 it failed from λ = −15 for implicit Euler (c = h) and at λ = −50 for every scheme,
 * while the forward solves converged. Then
 *     dL/db = w,   dL/dθ = c·(∂f/∂θ)ᵀ w.
 * Runs inside tf.customGrad: the forward solve is off the tape, only Y is saved.
 */
import { LabError } from '../../../src-shared/errors';
import { tf, type Tensor, type Variable } from '../tf';
import { nonFiniteError, userTime } from './errors';
import { solveFixedPoint, type FixedPointOptions } from './nonlinear';
import { vjp } from './vjp';

export interface ImplicitStage {
  /** f at the stage time, on a single-tensor state. */
  f: (y: Tensor) => Tensor;
  /** The same f for the backward pass's VJPs (counted as backward work). */
  fBackward: (y: Tensor) => Tensor;
  /** The step factor c = h·γ. */
  c: number;
  params: Variable[];
  solve: Omit<FixedPointOptions, 'memory'> & { memory: number };
}

export function solveStageWithImplicitGradient(b: Tensor, guess: Tensor, stage: ImplicitStage): Tensor {
  const op = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as (tensors: Tensor[]) => void;
    const base = args[0] as Tensor;
    const G = ([x]: Tensor[]) => [tf.tidy(() => tf.add(base, tf.mul(stage.f(x), stage.c)))];
    const { solution } = solveFixedPoint(G, [guess], stage.solve);
    save([solution[0]]);
    return { value: solution[0], gradFunc: (dy: Tensor, [Y]: Tensor[]) => adjointOfStage(dy, Y, stage) };
  });
  return op(b, ...stage.params);
}

function adjointOfStage(v: Tensor, Y: Tensor, stage: ImplicitStage): Tensor[] {
  // G(w) = v + c·(∂f/∂Y)ᵀw, one VJP of f at the solved stage per iteration, from w = v.
  const G = ([w]: Tensor[]): Tensor[] => {
    const { value, grads } = vjp(() => stage.fBackward(Y), [Y], w);
    const next = tf.tidy(() => tf.add(v, tf.mul(grads[0] ?? tf.zerosLike(Y), stage.c)));
    tf.dispose([value, ...grads.filter((g): g is Tensor => g !== null)]);
    return [next];
  };
  let w: Tensor;
  try {
    [w] = solveFixedPoint(G, [v], stage.solve).solution;
  } catch (e) {
    throw asGradientError(e, stage.solve.where);
  }
  const paramGrads = stage.params.length
    ? (() => {
        const { value, grads } = vjp(() => stage.fBackward(Y), stage.params, w);
        value.dispose();
        return grads.map((g, i) => {
          const scaled = g ? tf.mul(g, stage.c) : tf.zerosLike(stage.params[i]);
          g?.dispose();
          return scaled;
        });
      })()
    : [];
  return [w, ...paramGrads];
}

/** The stage solve's errors, said of this step's gradient (the backward pass). */
function asGradientError(e: unknown, where: ImplicitStage['solve']['where']): unknown {
  if (!(e instanceof LabError)) return e;
  const { stepSize, method } = where;
  if (e.code === 'NON_FINITE') {
    // At the first iteration: the gradient reaching this step (v) or the VJP at its stage is not finite.
    const what = `the gradient of the ${method} step is NaN or infinite`;
    return nonFiniteError(what, where, { stepSize, pass: 'backward' });
  }
  if (e.code !== 'NONLINEAR_SOLVE_FAILED') return e;
  const t = userTime(where.t, where.reversed);
  const { iterations, lastUpdate } = e.details as { iterations: number; lastUpdate: number };
  return new LabError(
    'NONLINEAR_SOLVE_FAILED',
    `the gradient of the ${method} step at t=${t.toPrecision(6)} (step size ${stepSize.toPrecision(4)}) did not ` +
      `converge in ${iterations} iterations: last update ${lastUpdate.toPrecision(3)}. Use a smaller step size.`,
    { t, stepSize, method, iterations, lastUpdate, pass: 'backward' },
  );
}
