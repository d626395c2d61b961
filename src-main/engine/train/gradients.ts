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

/** The caller owns (and disposes) loss, logits and grads. */
export function lossAndGradients(model: Model, x: Tensor, labels: Tensor, classes: number): LossAndGradients {
  let logits: Tensor | undefined;
  let odeStats: ForwardResult['odeStats'] = [];
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    result = tf.variableGrads(() => {
      const out = model.forward(x);
      odeStats = out.odeStats;
      logits = tf.keep(out.logits);
      return crossEntropy(out.logits, labels, classes);
    }, model.params);
  } catch (e) {
    logits?.dispose(); // kept outside the tape's scope, so a failed backward pass would leak it
    throw e;
  }
  const { value, grads } = result;
  return { loss: value, logits: logits!, grads: model.params.map((p) => grads[p.name]), odeStats };
}
