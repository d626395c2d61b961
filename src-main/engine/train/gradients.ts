/**
 * One batch's loss and parameter gradients: the computation a training step is made of, shared by the
 * single-process trainer and the gradient workers so both differentiate exactly the same function.
 */
import { tf, type Tensor } from '../tf';
import type { ForwardResult, Model } from '../models';
import { crossEntropy } from './metrics';

export interface LossAndGradients {
  /** Mean cross-entropy over the batch. */
  loss: tf.Scalar;
  logits: Tensor;
  /** `grads[i]` belongs to `model.params[i]`. */
  grads: Tensor[];
  odeStats: ForwardResult['odeStats'];
}

/**
 * The caller owns (and disposes) loss, logits and grads. `share` < 1 makes these rows part of a larger batch
 * (a worker's shard): the gradients are those of share × mean loss, so the shards' gradients add up to the
 * batch's, and the adjoint's a = dL/dz is the whole batch's in every shard. The returned loss stays the mean.
 */
export function lossAndGradients(model: Model, x: Tensor, labels: Tensor, classes: number, share = 1): LossAndGradients {
  let logits: Tensor | undefined;
  let mean: tf.Scalar | undefined;
  let odeStats: ForwardResult['odeStats'] = [];
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    result = tf.variableGrads(() => {
      const out = model.forward(x);
      odeStats = out.odeStats;
      logits = tf.keep(out.logits);
      const loss = crossEntropy(out.logits, labels, classes);
      if (share === 1) return loss;
      mean = tf.keep(loss);
      return tf.mul(loss, share);
    }, model.params);
  } catch (e) {
    tf.dispose([logits, mean].filter((t): t is Tensor => t !== undefined)); // kept outside the tape's scope
    throw e;
  }
  const { value, grads } = result;
  if (mean) value.dispose();
  return { loss: mean ?? value, logits: logits!, grads: model.params.map((p) => grads[p.name]), odeStats };
}
