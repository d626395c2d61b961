/** Evaluates a saved checkpoint on its dataset's test split. */
import type { Dataset } from '../../data';
import { tf } from '../tf';
import { buildModel } from '../models';
import { decodeCheckpoint } from './checkpoint';
import { evaluate, type Evaluation } from './evaluate';

export function evaluateCheckpoint(bytes: Uint8Array, dataset: Dataset, name?: string): Evaluation & { epoch: number } {
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config } = checkpoint;
  const model = buildModel(config.model, { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed });
  try {
    checkpoint.weights.forEach((w, i) => model.params[i].assign(tf.tensor(w.data, w.shape)));
    const result = evaluate(model, dataset.test, {
      classes: dataset.classes.length,
      imageShape: dataset.imageShape,
      normalisation: config.normalisation,
      batchSize: Math.max(config.batchSize, 500),
    });
    return { ...result, epoch: checkpoint.epoch };
  } finally {
    tf.dispose(model.params);
  }
}
