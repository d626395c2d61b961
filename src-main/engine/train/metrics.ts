/** Loss and accuracy of a batch of logits against integer labels. */
import { tf, type Tensor } from '../tf';

/** Mean softmax cross-entropy. */
export function crossEntropy(logits: Tensor, labels: Tensor, classes: number): tf.Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, classes), logits) as tf.Scalar);
}

/** Number of rows whose arg-max is the label. */
export function correctCount(logits: Tensor, labels: Tensor): number {
  const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'int32')));
  const n = hits.dataSync()[0];
  hits.dispose();
  return n;
}

/**
 * Scores a batch's predictions: adds them to a confusion matrix (rows: true class, columns: predicted) and
 * returns the positions in the batch predicted wrongly.
 */
export function scorePredictions(confusion: number[][], logits: Tensor, labels: Tensor): number[] {
  const predicted = tf.tidy(() => tf.argMax(logits, 1));
  const p = predicted.dataSync();
  const y = labels.dataSync();
  predicted.dispose();
  const wrong: number[] = [];
  for (let i = 0; i < p.length; i++) {
    confusion[y[i]][p[i]]++;
    if (p[i] !== y[i]) wrong.push(i);
  }
  return wrong;
}
