/** Evaluates a saved checkpoint on its dataset's test split. */
import type { Dataset } from '../../data';
import { tf } from '../tf';
import { buildModel } from '../models';
import { decodeCheckpoint } from './checkpoint';
import { evaluate, evaluationOptions, type Evaluation } from './evaluate';
import { loadWeights } from './weights';
import { GradientWorkerPool } from '../parallel';
import type { BackendName } from '../backend';

/** `workers` > 1 splits each batch's forward pass over that many worker threads, as training does. */
export async function evaluateCheckpoint(
  bytes: Uint8Array,
  dataset: Dataset,
  { name, workers = 1, backend }: { name?: string; workers?: number; backend?: BackendName } = {},
): Promise<Evaluation & { epoch: number }> {
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config } = checkpoint;
  const ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed };
  const model = buildModel(config.model, ctx);
  let pool: GradientWorkerPool | undefined;
  try {
    loadWeights(model, checkpoint.weights);
    if (workers > 1) pool = await GradientWorkerPool.create({ spec: config.model, ctx, backend, workers });
    const result = await evaluate(model, dataset.test, evaluationOptions(config, dataset), { pool });
    return { ...result, epoch: checkpoint.epoch };
  } finally {
    await pool?.dispose();
    tf.dispose(model.params);
  }
}
