/**
 * odeint(dynamics, y0, t, options) → { ys, stats }: the engine's one entry point for solving an ODE.
 * Gradient strategies are kept apart from the solvers (as diffrax keeps `adjoint` apart from `solver`):
 *  - 'direct': the solve runs on the tape and tfjs backpropagates through every operation;
 *  - 'adjoint': the backsolve adjoint in adjoint.ts, O(1) memory in the number of steps.
 */
import { tf, type Tensor, type Variable } from '../tf';
import { odeintAdjointStacked } from './adjoint';
import { integrate, type StepRecord } from './integrate';
import type { StateDynamics } from './state';
import { checkTimes, resolveOptions, type OdeintOptions } from './options';
import { solverInfo } from '../../../src-shared/solvers';

export type DynamicsFn = (t: number, y: Tensor) => Tensor;
/** Dynamics with the parameters the adjoint differentiates. */
export interface ParametrisedDynamics {
  params: Variable[];
  f: DynamicsFn;
}
export type Dynamics = DynamicsFn | ParametrisedDynamics;

export interface OdeStats extends StepRecord {
  /** Evaluations of the dynamics in the forward solve (including the first-step heuristic). */
  nfeForward: number;
  /** Evaluations (VJPs) of the dynamics in the backward pass; filled in when a gradient is taken. */
  nfeBackward: number;
  /** Steps of the adjoint's backward solve (adjoint mode only). */
  backward: Omit<StepRecord, 'stepSizes'> & { stepSizes: number[] };
}

export interface OdeSolution {
  /** One tensor per output time, ys[0] = y0. */
  ys: Tensor[];
  stats: OdeStats;
}

export type { OdeintOptions };

export function odeint(dynamics: Dynamics, y0: Tensor, t: ArrayLike<number>, options?: OdeintOptions): OdeSolution {
  const times = checkTimes(t);
  const resolved = resolveOptions(options);
  const stats: OdeStats = {
    nfeForward: 0,
    nfeBackward: 0,
    stepsAccepted: 0,
    stepsRejected: 0,
    stepSizes: [],
    backward: { stepsAccepted: 0, stepsRejected: 0, stepSizes: [] },
  };
  const f = typeof dynamics === 'function' ? dynamics : dynamics.f;

  if (resolved.gradient === 'direct') {
    const countBackward = backwardCounter(stats);
    // Implicit steps are differentiated by the implicit function theorem, which needs the parameters.
    const implicitGradientParams =
      solverInfo(resolved.forward.method).kind === 'implicit'
        ? typeof dynamics === 'function'
          ? discoverParams(f, times[0], y0, stats)
          : dynamics.params
        : undefined;
    // The implicit steps' backward pass re-evaluates f for its VJPs: those count as backward work only.
    const uncounted: StateDynamics = (ti, [y]) => tf.tidy(() => [countBackward(f(ti, y))]);
    const counted: StateDynamics = (ti, y) => {
      stats.nfeForward++;
      return uncounted(ti, y);
    };
    const implicitGradient = implicitGradientParams && { params: implicitGradientParams, dynamics: uncounted };
    const states = integrate(counted, [y0], times, { ...resolved.forward, implicitGradient }, stats);
    return { ys: states.map(([y]) => y), stats };
  }

  const params = typeof dynamics === 'function' ? discoverParams(f, times[0], y0, stats) : dynamics.params;
  const stacked = odeintAdjointStacked(y0, {
    f,
    params,
    times,
    forward: resolved.forward,
    backward: resolved.backward,
    onEvaluation: (pass) => (pass === 'forward' ? stats.nfeForward++ : stats.nfeBackward++),
    forwardRecord: stats,
    backwardRecord: stats.backward,
  });
  const ys = tf.unstack(stacked);
  stacked.dispose();
  return { ys, stats };
}

/**
 * An identity op whose gradient counts one backward evaluation: wrapped around each f output, it counts the
 * VJPs through the dynamics that backprop actually performs in direct mode.
 */
function backwardCounter(stats: OdeStats): (x: Tensor) => Tensor {
  const identity = (x: Tensor) => ({
    value: tf.clone(x),
    gradFunc: (dy: Tensor) => {
      stats.nfeBackward++;
      return [dy];
    },
  });
  return tf.customGrad(identity as unknown as Parameters<typeof tf.customGrad>[0]) as (x: Tensor) => Tensor;
}

/**
 * A bare function hides the variables it closes over, and the adjoint needs them explicitly. Find the trainable
 * variables one evaluation of f depends on (that evaluation is counted as forward work).
 */
function discoverParams(f: DynamicsFn, t0: number, y0: Tensor, stats: OdeStats): Variable[] {
  stats.nfeForward++;
  try {
    const { value, grads } = tf.variableGrads(() => tf.sum(f(t0, y0)) as tf.Scalar);
    value.dispose();
    const names = Object.keys(grads);
    tf.dispose(Object.values(grads));
    const registry = tf.engine().registeredVariables;
    return names.map((name) => registry[name]);
  } catch {
    return []; // no trainable variable feeds f: only y0 has a gradient
  }
}
