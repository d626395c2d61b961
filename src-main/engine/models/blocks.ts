/** The continuous-depth block and its discrete stand-ins, sharing one dynamics definition. */
import { tf, type Tensor } from '../tf';
import { odeint, type OdeintOptions, type OdeStats, type ParametrisedDynamics } from '../ode/odeint';

/** h(1) of dh/dt = f(t, h) from h(0) = h over t ∈ [0, 1]. */
export function odeBlock(dynamics: ParametrisedDynamics, solver: OdeintOptions) {
  return (h: Tensor): { out: Tensor; stats: OdeStats } => {
    const { ys, stats } = odeint(dynamics, h, [0, 1], solver);
    ys[0].dispose();
    return { out: ys[1], stats };
  };
}

/** A ResNet stack: h ← h + fᵢ(h) for N blocks, each with its own parameters (the dynamics at t = 0). */
export function residualStack(blocks: ParametrisedDynamics[]) {
  return (h: Tensor): Tensor => blocks.reduce((x, block) => tf.add(x, block.f(0, x)), h);
}
