/** Test-set evaluation: loss, accuracy, confusion matrix and the ODE work it took. */
import { batches, disposeBatch, type Dataset, type Normalisation, type Split } from '../../data';
import type { RunConfig } from '../../../src-shared/run-config';
import { tf } from '../tf';
import type { Model } from '../models';
import { correctCount, crossEntropy, scorePredictions } from './metrics';

export interface Evaluation {
  loss: number;
  accuracy: number;
  count: number;
  nfeForwardMean: number;
  confusion: number[][];
  /** Indices into the split of the images predicted wrongly. */
  misclassified: number[];
}

/** How a run evaluates: its normalisation, in batches of at least 500 (no gradients, so larger is cheaper). */
export function evaluationOptions(config: RunConfig, dataset: Dataset) {
  return {
    classes: dataset.classes.length,
    imageShape: dataset.imageShape,
    normalisation: config.normalisation,
    batchSize: Math.max(config.batchSize, 500),
  };
}

export function evaluate(
  model: Model,
  split: Split,
  opts: { classes: number; imageShape: readonly [number, number, number]; normalisation: Normalisation; batchSize: number },
): Evaluation {
  const confusion = Array.from({ length: opts.classes }, () => new Array<number>(opts.classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  let nfe = 0;
  let batchesSeen = 0;
  const misclassified: number[] = [];
  let offset = 0;
  for (const batch of batches(split, { ...opts, shuffle: false })) {
    const logits = tf.tidy(() => {
      const { logits, odeStats } = model.forward(batch.x);
      nfe += odeStats.reduce((n, s) => n + s.nfeForward, 0);
      return logits;
    });
    const loss = crossEntropy(logits, batch.y, opts.classes);
    lossSum += loss.dataSync()[0] * batch.size;
    correct += correctCount(logits, batch.y);
    for (const i of scorePredictions(confusion, logits, batch.y)) misclassified.push(offset + i);
    offset += batch.size;
    batchesSeen++;
    tf.dispose([loss, logits]);
    disposeBatch(batch);
  }
  const count = split.labels.length;
  return { loss: lossSum / count, accuracy: correct / count, count, nfeForwardMean: nfe / batchesSeen, confusion, misclassified };
}
