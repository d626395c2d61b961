/** The ODE blocks' dynamics of the write-ups, as (parameters, f) pairs that odeint's adjoint understands. */
import { tf, type Tensor } from '../tf';
import {
  conv2d,
  createConv,
  createDense,
  createGroupNorm,
  dense,
  groupNorm,
  variablesOf,
  type ConvParams,
  type DenseParams,
  type GroupNormParams,
  type SeedSequence,
} from './layers';
import type { ParametrisedDynamics } from '../ode/odeint';

/**
 * MNIST ODENet write-up: f(t, h) = GN(conv(ReLU(GN(h)))) — one GroupNorm module applied twice, as the write-up's
 * code does; channels groups of one channel each.
 */
export function convGroupNormDynamics(
  channels: number,
  seeds: SeedSequence,
  epsilon = 1e-5,
): ParametrisedDynamics & {
  record: { norm: GroupNormParams; conv: ConvParams };
} {
  const record = { norm: createGroupNorm(channels, channels, 'ode/norm'), conv: createConv(channels, channels, 3, seeds, 'ode/conv') };
  const gn = (x: Tensor) => groupNorm(x, record.norm, epsilon);
  return {
    record,
    params: variablesOf(record),
    f: (_t: number, h: Tensor) => gn(conv2d(tf.relu(gn(h)), record.conv)),
  };
}

/** Fashion-MNIST write-up: f(t, h) = ReLU(W3·ReLU(W2·ReLU(W1·h))) with widths features→hidden→hidden→features. */
export function mlpDynamics(features: number, hidden: number, seeds: SeedSequence): ParametrisedDynamics & {
  record: { layers: DenseParams[] };
} {
  const record = {
    layers: [
      createDense(features, hidden, seeds, 'ode/dense1'),
      createDense(hidden, hidden, seeds, 'ode/dense2'),
      createDense(hidden, features, seeds, 'ode/dense3'),
    ],
  };
  return {
    record,
    params: variablesOf(record),
    f: (_t: number, h: Tensor) => record.layers.reduce((x, layer) => tf.relu(dense(x, layer)), h),
  };
}

