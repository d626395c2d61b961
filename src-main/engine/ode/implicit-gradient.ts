/**
 * Gradient of an implicit stage by the implicit function theorem, instead of backpropagating through every
 * nonlinear iteration (which keeps each iteration's tensors, and Anderson's histories, on the tape: gigabytes for
 * a 20-step solve of a conv net). The stage solves Y = b + c·f(Y; θ). Given v = dL/dY, the adjoint equation
 *     w = v + c·(∂f/∂Y)ᵀ w
 * is solved by the same fixed-point iteration (it contracts exactly when the forward iteration does); then
 *     dL/db = w,   dL/dθ = c·(∂f/∂θ)ᵀ w.
 * Runs inside tf.customGrad: the forward solve is off the tape, only Y is saved.
 */
import { LabError } from '../../../src-shared/errors';
import { tf, type Tensor, type Variable } from '../tf';
import { nonFiniteError, userTime } from './errors';
import { solveFixedPoint, updateSize, type FixedPointOptions } from './nonlinear';
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
  let w = tf.clone(v);
  let converged = false;
  let update = Infinity;
  for (let k = 0; k < stage.solve.maxIters && !converged; k++) {
    const { value, grads } = vjp(() => stage.fBackward(Y), [Y], w);
    const next = tf.tidy(() => tf.add(v, tf.mul(grads[0] ?? tf.zerosLike(Y), stage.c)));
    const delta = tf.sub(next, w);
    update = updateSize([delta], [next]);
    tf.dispose([value, delta, w, ...grads.filter((g): g is Tensor => g !== null)]);
    w = next;
    if (!Number.isFinite(update)) {
      // At once: the gradient reaching this step (v) or the VJP at its stage is not finite. Later: diverged.
      if (k === 0) {
        w.dispose();
        throw nonFiniteError(`the gradient of the ${stage.solve.where.method} step is NaN or infinite`, stage.solve.where, {
          stepSize: stage.solve.where.stepSize,
          pass: 'backward',
        });
      }
      break;
    }
    converged = update <= stage.solve.tol;
  }
  if (!converged) {
    w.dispose();
    const { stepSize, method } = stage.solve.where;
    const t = userTime(stage.solve.where.t, stage.solve.where.reversed);
    throw new LabError(
      'NONLINEAR_SOLVE_FAILED',
      `the gradient of the ${method} step at t=${t.toPrecision(6)} (step size ${stepSize.toPrecision(4)}) did not ` +
        `converge in ${stage.solve.maxIters} iterations: last update ${update.toPrecision(3)}. Use a smaller step size.`,
      { t, stepSize, method, iterations: stage.solve.maxIters, lastUpdate: update, pass: 'backward' },
    );
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
