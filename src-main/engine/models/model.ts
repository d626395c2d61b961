/** What every model is to the trainer: parameters and a forward pass that reports its ODE solves' statistics. */
import type { Tensor, Variable } from '../tf';
import type { OdeStats } from '../ode/odeint';

export interface ForwardResult {
  logits: Tensor;
  /** One entry per ODE solve in the forward pass (empty for models without an ODE block). */
  odeStats: OdeStats[];
}

export interface Model {
  name: string;
  /** Trainable variables, in a stable order (checkpoints and optimiser state rely on it). */
  params: Variable[];
  forward(x: Tensor): ForwardResult;
}

export interface BuildContext {
  classes: number;
  /** [h, w, c] of one image. */
  imageShape: readonly [number, number, number];
  seed: number;
}

export function parameterCount(model: Pick<Model, 'params'>): number {
  return model.params.reduce((n, v) => n + v.size, 0);
}
