/** Evaluates a saved checkpoint on its dataset's test split (or its training split). */
import { head, type Dataset } from '../../data';
import { LabError, requirePositiveInteger } from '../../../src-shared/errors';
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
   * 'train' scores the training split as the run's dataset spec loads it (all of it, not only a run's
   * --train-size subset): how well the model fits what it trained on, against 'test' (the default) for how it
   * generalises.
   */
  split?: SplitName;
  /** Only the split's first `limit` images (as the write-ups' callbacks score a few batches). */
  limit?: number;
  /**
   * Images per forward pass (default: the run's batch size, at least 500). Adaptive solvers choose their steps
   * on a whole batch's error norm, so the batch size can change NFE and, slightly, predictions.
   */
  batchSize?: number;
  /**
   * 'trained' scores the weights the optimiser reached even when the run averaged them; by default a checkpoint
   * with averaged weights (config.emaDecay > 0) is scored on those, as the run's own evaluations were.
   */
  weights?: WeightsName;
}

export type SplitName = 'train' | 'test';
export type WeightsName = 'averaged' | 'trained';

export async function evaluateCheckpoint(
  bytes: Uint8Array,
  dataset: Dataset,
  { name, workers = 1, backend, split = 'test', limit, batchSize, weights }: CheckpointEvaluationOptions = {},
): Promise<Evaluation & { epoch: number; split: SplitName; weights: WeightsName }> {
  // Checked before the model is built; batches() checks batchSize with the same helper, but only once it runs.
  if (limit !== undefined) requirePositiveInteger('limit', limit);
  if (batchSize !== undefined) requirePositiveInteger('batchSize', batchSize);
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config } = checkpoint;
  const { average } = checkpoint;
  if (weights === 'averaged' && !average) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${name ?? 'the checkpoint'} has no averaged weights (its run did not average them, emaDecay 0): score its trained weights`,
      { field: 'weights' },
    );
  }
  const scoredWeights: WeightsName = weights ?? (average ? 'averaged' : 'trained');
  const ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed };
  const model = buildModel(config.model, ctx);
  let pool: GradientWorkerPool | undefined;
  try {
    if (scoredWeights === 'averaged') loadWeights(model, average!.weights, 'averaged weight');
    else loadWeights(model, checkpoint.weights);
    if (workers > 1) pool = await GradientWorkerPool.create({ spec: config.model, ctx, backend, workers });
    const scored = limit === undefined ? dataset[split] : head(dataset[split], limit);
    const options = evaluationOptions(config, dataset);
    const result = await evaluate(model, scored, { ...options, batchSize: batchSize ?? options.batchSize }, { pool });
    return { ...result, epoch: checkpoint.epoch, split, weights: scoredWeights };
  } finally {
    await pool?.dispose();
    tf.dispose(model.params);
  }
}
