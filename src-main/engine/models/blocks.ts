/** The continuous-depth block and its discrete stand-ins, sharing one dynamics definition. */
import { tf, type Tensor } from '../tf';
import { ODE_BLOCK_INTERVAL } from '../../../src-shared/run-config';
import { odeint, type OdeintOptions, type OdeStats, type ParametrisedDynamics } from '../ode/odeint';

/** h(1) of dh/dt = f(t, h) from h(0) = h over t ∈ [0, 1]. */
export function odeBlock(dynamics: ParametrisedDynamics, solver: OdeintOptions) {
  return (h: Tensor): { out: Tensor; stats: OdeStats } => {
    // The interval the config's checks assume (a fixed step's step count against maxSteps).
    const { ys, stats } = odeint(dynamics, h, [...ODE_BLOCK_INTERVAL], solver);
    ys[0].dispose();
    return { out: ys[1], stats };
  };
}

/** A ResNet stack: h ← h + fᵢ(h) for N blocks, each with its own parameters (the dynamics at t = 0). */
export function residualStack(blocks: ParametrisedDynamics[]) {
  return (h: Tensor): Tensor => blocks.reduce((x, block) => tf.add(x, block.f(0, x)), h);
}
