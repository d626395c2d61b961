/** Test-set evaluation: loss, accuracy, confusion matrix and the ODE work it took. */
import { batches, disposeBatch, type Dataset, type Normalisation, type Split } from '../../data';
import type { RunConfig } from '../../../src-shared/run-config';
import { LabError } from '../../../src-shared/errors';
import { tf } from '../tf';
import type { Model } from '../models';
import type { GradientWorkerPool } from '../parallel';
import { correctCount, crossEntropy, scorePredictions } from './metrics';
import { poolInputs } from './steps';

export interface Evaluation {
  loss: number;
  accuracy: number;
  count: number;
  nfeForwardMean: number;
  confusion: number[][];
  /** Indices into the split of the images predicted wrongly. */
  misclassified: number[];
}

/** Misclassified images of a subset (positions in it) by their index in its split; the split itself: as they are. */
export function inSplit(misclassified: number[], indices?: ArrayLike<number>): number[] {
  return indices ? misclassified.map((i) => indices[i]) : misclassified;
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

/**
 * Evaluates `model` on `split`, in batches. With a worker pool, each batch's forward pass is split over the
 * workers (the test set is most of an epoch's forward work: 6000 test images against 2700 training ones for
 * shapes); the metrics are computed here from the returned logits either way. With a signal, the event loop gets
 * a turn before each batch and an abort stops the evaluation there (CANCELLED): an implicit solver's test set
 * takes minutes.
 */
export async function evaluate(
  model: Model,
  split: Split,
  opts: { classes: number; imageShape: readonly [number, number, number]; normalisation: Normalisation; batchSize: number },
  {
    pool,
    signal,
    onProgress,
  }: {
    pool?: GradientWorkerPool;
    signal?: AbortSignal;
    /** After each batch: images scored so far, of how many (a test set can take minutes). */
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<Evaluation> {
  const confusion = Array.from({ length: opts.classes }, () => new Array<number>(opts.classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  let nfe = 0;
  let batchesSeen = 0;
  const misclassified: number[] = [];
  let offset = 0;
  const weights = pool && model.params.map((p) => p.dataSync() as Float32Array);
  onProgress?.(0, split.labels.length);
  for (const batch of batches(split, { ...opts, shuffle: false })) {
    try {
      if (signal) {
        await new Promise((resolve) => setImmediate(resolve));
        if (signal.aborted) throw new LabError('CANCELLED', 'the evaluation was cancelled');
      }
      let logits: tf.Tensor;
      if (pool && weights) {
        const r = await pool.computeLogits(weights, ...poolInputs(batch));
        logits = tf.tensor2d(r.logits, [batch.size, opts.classes]);
        nfe += r.nfeForward;
      } else {
        logits = tf.tidy(() => {
          const out = model.forward(batch.x);
          nfe += out.odeStats.reduce((n, s) => n + s.nfeForward, 0);
          return out.logits;
        });
      }
      const loss = crossEntropy(logits, batch.y, opts.classes);
      lossSum += loss.dataSync()[0] * batch.size;
      correct += correctCount(logits, batch.y);
      for (const i of scorePredictions(confusion, logits, batch.y)) misclassified.push(offset + i);
      tf.dispose([loss, logits]);
    } finally {
      disposeBatch(batch);
    }
    offset += batch.size;
    batchesSeen++;
    onProgress?.(offset, split.labels.length);
  }
  const count = split.labels.length;
  return { loss: lossSum / count, accuracy: correct / count, count, nfeForwardMean: nfe / batchesSeen, confusion, misclassified };
}
