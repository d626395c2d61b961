/** Evaluates a saved checkpoint on its dataset's test split. */
import type { Dataset } from '../../data';
import { tf } from '../tf';
import { buildModel } from '../models';
import { decodeCheckpoint } from './checkpoint';
import { evaluate, evaluationOptions, type Evaluation } from './evaluate';
import { loadWeights } from './weights';

export async function evaluateCheckpoint(
  bytes: Uint8Array,
  dataset: Dataset,
  name?: string,
): Promise<Evaluation & { epoch: number }> {
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config } = checkpoint;
  const model = buildModel(config.model, { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed });
  try {
    loadWeights(model, checkpoint.weights);
    const result = await evaluate(model, dataset.test, evaluationOptions(config, dataset));
    return { ...result, epoch: checkpoint.epoch };
  } finally {
    tf.dispose(model.params);
  }
}
