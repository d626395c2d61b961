/** Evaluates a saved checkpoint on its dataset's test split (or its training split, or the images it held out). */
import { complement, datasetContentHash, head, type Dataset, type Split } from '../../data';
import { LabError, requirePositiveInteger } from '../../../src-shared/errors';
import { describeIssues, stepSizeOf, tolerancesOf, type SolverSpec } from '../../../src-shared/config';
import { RunConfig, usesSolverSpec } from '../../../src-shared/run-config';
import { solverInfo } from '../../../src-shared/solvers';
import { tf } from '../tf';
import { buildModel } from '../models';
import { decodeCheckpoint, sameSubset, trainedOnOf, trainingSubsetOf, type Checkpoint } from './checkpoint';
import { evaluate, evaluationOptions, inSplit, type Evaluation } from './evaluate';
import { loadWeights } from './weights';
import { trainingIndices } from './trainer';
import { datasetChange, evaluationNote, shortHash, type DatasetChange } from './dataset-identity';
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
   * generalises. 'held-out' scores the training images outside a --train-size run's subset (the same stratified,
   * seeded choice training made), in their original order.
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
  /**
   * Score with this solver instead of the one the run trained with (config.model.solver), e.g. a finer or coarser
   * step, or another method: whether the model learned a flow or depends on its discretisation (Ott et al. 2021).
   * Only for a model whose ODE block is solved as its spec says (usesSolverSpec: not mlp, resnet, rknet); checked
   * as a new run's solver is (RunConfig: a fixed step needing more than maxSteps steps, tolerances beyond float32).
   * Its gradient settings mean nothing here.
   */
  solver?: SolverSpec;
  /** After each batch: images scored so far, of how many. */
  onProgress?: (done: number, total: number) => void;
  /** An abort stops the evaluation before its next batch, with CANCELLED (a training split takes minutes). */
  signal?: AbortSignal;
}

/** 'held-out': the training images a run with --train-size did not train on, to choose settings without the test set. */
export type SplitName = 'train' | 'test' | 'held-out';
export type WeightsName = 'averaged' | 'trained';

/**
 * What can be refused from the checkpoint alone, before its dataset is loaded (a CLI calls this first, as
 * evaluateCheckpoint does): averaged weights the run did not keep, held-out images of a run that trained on every
 * image. Returns the weights to score.
 */
export function checkEvaluationRequest(
  checkpoint: Checkpoint,
  { name, split = 'test', weights, solver }: Pick<CheckpointEvaluationOptions, 'name' | 'split' | 'weights' | 'solver'>,
): WeightsName {
  if (solver) checkScoringSolver(checkpoint, solver, name);
  if (weights === 'averaged' && !checkpoint.average) {
    throw new LabError(
      'INVALID_ARGUMENT',
      // The run that wrote it: a run started from another run's checkpoint keeps that one as its first.
      `${name ?? 'the checkpoint'} has no averaged weights (the run that wrote it did not average them, emaDecay ` +
        `${checkpoint.config.emaDecay}): score its trained weights`,
      { field: 'weights' },
    );
  }
  if (split === 'held-out' && checkpoint.config.trainSize === undefined) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `split 'held-out' needs a run trained on part of its training images (trainSize); ` +
        `${name ?? 'this run'} trained on all of them (trainSize unset)`,
      { field: 'split' },
    );
  }
  return weights ?? (checkpoint.average ? 'averaged' : 'trained');
}

/** A solver to score `checkpoint` with: only for a model that has one, and one a new run could use. */
function checkScoringSolver(checkpoint: Checkpoint, solver: SolverSpec, name: string | undefined): void {
  const { config } = checkpoint;
  const model = config.model.name;
  if (!usesSolverSpec(model)) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${name ?? 'the checkpoint'} holds a '${model}' model, which has no ODE block solved as a solver spec says ` +
        `(mlp and resnet have none; rknet's RK4 steps are its layers): there is no solver to score it with`,
      { field: 'solver' },
    );
  }
  const parsed = RunConfig.safeParse({ ...config, model: { ...config.model, solver } });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LabError('INVALID_ARGUMENT', `invalid solver to score with:\n${describeIssues(parsed.error)}`, {
      field: issue.path.length ? issue.path.join('.') : 'solver',
    });
  }
}

/** The settings of a solver spec that decide a forward solve (not its gradient's), the catalogue's defaults filled in. */
export function forwardSettings(spec: SolverSpec): Record<string, string | number> {
  const { method, maxSteps, minStep, controller, implicitTol, implicitMaxIters } = spec;
  const info = solverInfo(method);
  const step: Record<string, string | number> = info.adaptive ? { ...tolerancesOf(spec), minStep, controller } : { stepSize: stepSizeOf(spec) };
  return { method, ...step, maxSteps, ...(info.kind === 'implicit' ? { implicitTol, implicitMaxIters } : {}) };
}

/** The spec with the step size or tolerances it leaves to the catalogue filled in: what a reader needs to know. */
function withDefaults(spec: SolverSpec): SolverSpec {
  return solverInfo(spec.method).adaptive ? { ...spec, ...tolerancesOf(spec) } : { ...spec, stepSize: stepSizeOf(spec) };
}

/** Whether two solver specs solve a forward pass alike (their gradient settings aside). */
export function sameForwardSolver(a: SolverSpec, b: SolverSpec): boolean {
  const [x, y] = [forwardSettings(a), forwardSettings(b)];
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys].every((k) => x[k] === y[k]);
}

/**
 * The images `split` stands for, for this checkpoint, and for 'held-out' their indices in the training split.
 * Held-out images must be unseen: refused when the run trained on every image, or continued from a checkpoint
 * trained on other images.
 */
function splitImages(dataset: Dataset, checkpoint: Checkpoint, split: SplitName, change: DatasetChange | undefined): Split & { indices?: Uint32Array } {
  if (split !== 'held-out') return dataset[split];
  const { config } = checkpoint;
  const trained = trainingIndices(config, dataset);
  if (!trained) {
    // trainSize at least the training split's size (an unset one is refused by checkEvaluationRequest).
    throw new LabError(
      'INVALID_ARGUMENT',
      `split 'held-out' needs a run trained on part of its ${dataset.train.labels.length} training images ` +
        `(trainSize below that); this run's trainSize is ${config.trainSize ?? 'unset'}`,
      { field: 'split' },
    );
  }
  // The complement of the subset is only unseen in the very images the run trained on.
  if (change) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `split 'held-out': the dataset loaded for this run's spec is not the one it trained on (content hash ` +
        `${shortHash(change.loaded)}, the run's ${shortHash(change.trained)}), so its held-out images are unknown`,
      { field: 'split' },
    );
  }
  const own = trainingSubsetOf(config);
  const other = trainedOnOf(checkpoint).find((s) => !sameSubset(s, own));
  if (other) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `split 'held-out': this run continued from a checkpoint trained on other images (${other.dataset.kind}, ` +
        `trainSize ${other.trainSize ?? 'all'}, seed ${other.seed}), so the images it left out are not all unseen`,
      { field: 'split' },
    );
  }
  return complement(dataset.train, trained);
}

export interface CheckpointEvaluation extends Evaluation {
  epoch: number;
  split: SplitName;
  weights: WeightsName;
  /** datasetContentHash of the dataset scored. */
  datasetHash: string;
  /**
   * The solver that scored it (the options' solver, else the one the run trained with; its step size or tolerances
   * filled in from the catalogue where the spec leaves them); absent for a model whose
   * ODE block does not follow a solver spec (mlp, resnet, rknet).
   */
  solver?: SolverSpec;
  /** The solver the run trained with, when it solves a forward pass otherwise than `solver` (sameForwardSolver). */
  trainedSolver?: SolverSpec;
  /** The checkpoint's: the copy its run trained on (absent in checkpoints written before it was kept). */
  trainedOnDatasetHash?: string;
  /**
   * What the scores' reader should know: the dataset scored is another copy (other content) than the run trained
   * on. Scored anyway, as that can be deliberate; 'held-out' is refused instead (its images are unknown there).
   */
  warnings: string[];
}

export async function evaluateCheckpoint(
  bytes: Uint8Array,
  dataset: Dataset,
  { name, workers = 1, backend, split = 'test', limit, batchSize, weights, solver, onProgress, signal }: CheckpointEvaluationOptions = {},
): Promise<CheckpointEvaluation> {
  // Checked before the model is built; batches() checks batchSize with the same helper, but only once it runs.
  if (limit !== undefined) requirePositiveInteger('limit', limit);
  if (batchSize !== undefined) requirePositiveInteger('batchSize', batchSize);
  const checkpoint = decodeCheckpoint(bytes, name);
  const { config, average } = checkpoint;
  const scoredWeights = checkEvaluationRequest(checkpoint, { name, split, weights, solver });
  const hash = datasetContentHash(dataset);
  const change = datasetChange(checkpoint, dataset, hash);
  const images = splitImages(dataset, checkpoint, split, change);
  const scored = limit === undefined ? images : head(images, limit);
  const ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed };
  // The model as trained, its ODE block solved by `solver` when one is given (no parameter depends on the solver).
  const spec = solver ? { ...config.model, solver } : config.model;
  const model = buildModel(spec, ctx);
  let pool: GradientWorkerPool | undefined;
  try {
    if (scoredWeights === 'averaged') loadWeights(model, average!.weights, 'averaged weight');
    else loadWeights(model, checkpoint.weights);
    if (workers > 1) pool = await GradientWorkerPool.create({ spec, ctx, backend, workers });
    const options = evaluationOptions(config, dataset);
    const result = await evaluate(model, scored, { ...options, batchSize: batchSize ?? options.batchSize }, { pool, onProgress, signal });
    // Misclassified images by their index in the dataset's split (held-out ones: in the training split).
    const misclassified = inSplit(result.misclassified, images.indices);
    return {
      ...result,
      misclassified,
      epoch: checkpoint.epoch,
      split,
      weights: scoredWeights,
      ...(usesSolverSpec(config.model.name) ? { solver: withDefaults(spec.solver) } : {}),
      ...(solver && !sameForwardSolver(solver, config.model.solver) ? { trainedSolver: withDefaults(config.model.solver) } : {}),
      datasetHash: hash,
      ...(checkpoint.datasetHash ? { trainedOnDatasetHash: checkpoint.datasetHash } : {}),
      warnings: change ? [evaluationNote(change, name)] : [],
    };
  } finally {
    await pool?.dispose();
    tf.dispose(model.params);
  }
}
