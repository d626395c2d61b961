/**
 * The backsolve adjoint (Chen et al. 2018, as torchdiffeq's odeint_adjoint): the forward solve keeps no
 * intermediate states; the backward pass integrates the augmented state [z, a, dL/dθ] from t_N back to t_0,
 *     dz/dt = f(t, z),   da/dt = −aᵀ ∂f/∂z,   d(dL/dθ)/dt = −aᵀ ∂f/∂θ,
 * with vector–Jacobian products from tfjs. Memory is O(1) in the number of solver steps.
 * Time runs backwards through the substitution s = −t, so the same integrator serves both directions.
 */
import { tf, type Tensor, type Variable } from '../tf';
import { integrate, type IntegrateOptions, type StepRecord } from './integrate';
import { withSharedParts } from './norm-reduction';
import type { State } from './state';
import { vjp } from './vjp';

export interface AdjointProblem {
  f: (t: number, y: Tensor) => Tensor;
  params: Variable[];
  times: number[];
  forward: IntegrateOptions;
  backward: IntegrateOptions;
  /** Counts evaluations: called once per evaluation of f, with the pass it belongs to. */
  onEvaluation: (pass: 'forward' | 'backward') => void;
  forwardRecord: StepRecord;
  backwardRecord: StepRecord;
}

/** Solves forward and returns the outputs stacked on a new leading axis, with the adjoint as its gradient. */
export function odeintAdjointStacked(y0: Tensor, p: AdjointProblem): Tensor {
  const solve = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as (tensors: Tensor[]) => void;
    const states = integrate(
      (t, [y]) => {
        p.onEvaluation('forward');
        return [tf.tidy(() => p.f(t, y))];
      },
      [args[0] as Tensor],
      p.times,
      p.forward,
      p.forwardRecord,
    );
    const stacked = tf.stack(states.map(([y]) => y));
    states.forEach((s) => tf.dispose(s));
    save([stacked]);
    return {
      value: stacked,
      gradFunc: (dy: Tensor, saved: Tensor[]) => backward(dy, saved[0], p),
    };
  });
  return solve(y0, ...p.params);
}

/** Augmented dynamics in reversed time s = −t: d/ds [z, a, g] = [−f, aᵀ∂f/∂z, aᵀ∂f/∂θ]. */
function augmentedDynamics(p: AdjointProblem) {
  return (s: number, [z, a]: State): State => {
    p.onEvaluation('backward');
    const xs = [z, ...p.params];
    // One backward sweep gives the value and the VJPs w.r.t. z and every parameter.
    const { value, grads } = vjp(() => p.f(-s, z), xs, a);
    const out = [tf.neg(value), ...grads.map((g, i) => (g ?? tf.zerosLike(xs[i])) as Tensor)];
    value.dispose();
    return out;
  };
}

function backward(dy: Tensor, ys: Tensor, p: AdjointProblem): Tensor[] {
  const dys = tf.unstack(dy);
  const zs = tf.unstack(ys);
  const last = p.times.length - 1;
  let state: State = [tf.clone(zs[last]), tf.clone(dys[last]), ...p.params.map((v) => tf.zerosLike(v))];
  const dynamics = augmentedDynamics(p);
  for (let i = last; i > 0; i--) {
    // Parts 2… (dL/dθ) are shared across a batch's shards; z and a are per sample (ode/norm-reduction.ts).
    const [start, end] = withSharedParts(2, () =>
      integrate(dynamics, state, [-p.times[i], -p.times[i - 1]], p.backward, p.backwardRecord),
    );
    tf.dispose([...state, ...start]);
    // Restart z from the forward solution (as torchdiffeq does) and add the loss's direct dependence on y(t_{i-1}).
    const [z, a, ...g] = end;
    state = [tf.clone(zs[i - 1]), tf.add(a, dys[i - 1]), ...g];
    tf.dispose([z, a]);
  }
  tf.dispose([...dys, ...zs]);
  const [z, a, ...paramGrads] = state;
  z.dispose();
  return [a, ...paramGrads];
}
