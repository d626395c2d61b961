/** Evaluates a saved checkpoint on its dataset's test split (or its training split). */
import { head, type Dataset } from '../../data';
import { tf } from '../tf';
import { buildModel } from '../models';
import { decodeCheckpoint } from './checkpoint';
import { evaluate, evaluationOptions, type Evaluation } from './evaluate';
import { loadWeights } from './weights';
import { GradientWorkerPool } from '../parallel';
import type { BackendName } from '../backend';

export interface CheckpointEvaluationOptions {
  /** Label for errors (the file name). */
  name?: string;
  /** > 1 splits each batch's forward pass over that many worker threads, as training does. */
  workers?: number;
  backend?: BackendName;
  /**
   * 'train' scores the dataset's whole training split, not only a run's --train-size subset: how well the model
   * fits what it trained on, against 'test' (the default) for how it generalises.
   */
  split?: 'train' | 'test';
  /** Only the split's first `limit` images (as the write-ups' callbacks score a few batches). */
  limit?: number;
}

export async function evaluateCheckpoint(
  bytes: Uint8Array,
  dataset: Dataset,
  { name, workers = 1, backend, split = 'test', limit }: CheckpointEvaluationOptions = {},
): Promise<Evaluation & { epoch: number; split: 'train' | 'test' }> {
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config } = checkpoint;
  const ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed };
  const model = buildModel(config.model, ctx);
  let pool: GradientWorkerPool | undefined;
  try {
    loadWeights(model, checkpoint.weights);
    if (workers > 1) pool = await GradientWorkerPool.create({ spec: config.model, ctx, backend, workers });
    const images = limit === undefined ? dataset[split] : head(dataset[split], limit);
    const result = await evaluate(model, images, evaluationOptions(config, dataset), { pool });
    return { ...result, epoch: checkpoint.epoch, split };
  } finally {
    await pool?.dispose();
    tf.dispose(model.params);
  }
}
