/**
 * The training loop: batches → loss → gradients (through or around the ODE solver) → optimiser, with the
 * metrics a researcher watches, checkpoints at epoch ends, resume points inside epochs (when cancelled, and every
 * few minutes), cancellation between batches, and a clear end state: completed, cancelled, diverged (non-finite
 * loss, at once) or failed (the engine's typed error, and where).
 */
import { LabError } from '../../../src-shared/errors';
import { usesSolverSpec, type RunConfig } from '../../../src-shared/run-config';
import type { EndedEvent, RunErrorInfo, RunEvent, TestingProgress } from '../../../src-shared/run-events';
import type { ResumePointAt } from '../../../src-shared/run-record';
import {
  batchCount,
  batches,
  datasetContentHash,
  disposeBatch,
  head,
  gather,
  stratifiedIndices,
  type Dataset,
  type Split,
} from '../../data';
import { solverInfo } from '../../../src-shared/solvers';
import { tf } from '../tf';
import { buildModel, parameterCount, type Model } from '../models';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  firstNonFinite,
  sameSubset,
  trainedOnOf,
  trainingSubsetOf,
  type Checkpoint,
  type TrainingSubset,
} from './checkpoint';
import { EpochTally, type EpochPosition } from './epoch-position';
import { evaluate, evaluationOptions, inSplit } from './evaluate';
import { continuingMessage, datasetChange, startingNote } from './dataset-identity';
import { loadWeights } from './weights';
import { createOptimizer, type Optimizer } from './optimizers';
import { updateAverage } from './weight-average';
import { localStep, pooledStep, type StepResult } from './steps';
import { GradientWorkerPool } from '../parallel';
import { outOfMemoryError } from '../out-of-memory';
import type { BackendName } from '../backend';

export interface TrainOptions {
  dataset: Dataset;
  backend: string;
  /** Passed on in the started event (see slowBackendNote). */
  backendNote?: string;
  onEvent: (e: RunEvent) => void;
  /** How far a test-set evaluation (the epoch's, or an --eval-every one) has got: not an event, nothing records it. */
  onTesting?: (p: TestingProgress) => void;
  signal?: AbortSignal;
  /** Continue from this checkpoint (bytes as written by `saveCheckpoint`). */
  resumeFrom?: Uint8Array;
  /**
   * The checkpoint is this run's own and the run goes on (runs resume): on a copy of the dataset with other content
   * than the checkpoint was trained on, the run ends failed (DATASET_CHANGED) before its first batch, rather than
   * mix two datasets' epochs in one run. Otherwise (a new run from a checkpoint, train --resume: fine-tuning on other
   * images can be deliberate) the started event says so in its datasetNote.
   */
  continuing?: boolean;
  /** Persists a checkpoint (awaited before the 'checkpoint' event). */
  saveCheckpoint?: (bytes: Uint8Array, epoch: number, step: number) => Promise<void> | void;
  /**
   * Persists a resume point: a checkpoint inside epoch `epoch` (1-based, in progress) after its `batch`-th batch
   * (awaited before its 'checkpoint' event, which carries `batch`). Without it, no resume point is taken.
   */
  saveResumePoint?: (bytes: Uint8Array, at: ResumePointAt) => Promise<void> | void;
  /**
   * Also take a resume point after the batch that ends each this many minutes of training since the last
   * checkpoint (0 or absent: only on a cancel). A runtime choice, not part of the run: results are the same.
   */
  resumePointMinutes?: number;
  /** Stop after this many epochs in total (for tests of resume); defaults to config.epochs. */
  stopAfterEpoch?: number;
  /**
   * Data-parallel steps: with more than one, each batch's gradient is computed by this many worker threads on
   * contiguous shards (GradientWorkerPool), and test-set evaluations split their forward passes the same way; the
   * model and optimiser stay on this thread.
   * A runtime choice, not part of the run: results match single-process training to float32 rounding, and the
   * NFE too (the shards' solvers decide on the whole batch's error norms). Default 1.
   */
  workers?: number;
}

export type { ResumePointAt }; // the store's and the trainer's one description of where a resume point stands

/** Indices of the training images the config trains on (its stratified, seeded --train-size subset); all: undefined. */
export function trainingIndices(config: RunConfig, dataset: Dataset): Uint32Array | undefined {
  if (config.trainSize === undefined || config.trainSize >= dataset.train.labels.length) return undefined;
  return stratifiedIndices(dataset.train.labels, config.trainSize, config.seed);
}

/** The training images the config trains on. */
export function trainingSplit(config: RunConfig, dataset: Dataset): Split {
  const indices = trainingIndices(config, dataset);
  return indices ? gather(dataset.train, indices) : dataset.train;
}

/**
 * Indices of the test images each epoch's end scores: the config's stratified --test-size subset, seeded by its
 * seed, so the same images every epoch and on resume; all: undefined.
 */
export function testIndices(config: RunConfig, dataset: Dataset): Uint32Array | undefined {
  if (config.testSize === undefined || config.testSize >= dataset.test.labels.length) return undefined;
  return stratifiedIndices(dataset.test.labels, config.testSize, config.seed);
}

/** The test images each epoch's end scores, and, for a --test-size subset, their indices in the test split. */
export function testingSplit(config: RunConfig, dataset: Dataset): Split & { indices?: Uint32Array } {
  const indices = testIndices(config, dataset);
  return indices ? { ...gather(dataset.test, indices), indices } : dataset.test;
}

/** What training holds: the trained model, its optimiser and, with weight averaging, the averaged model. */
interface TrainingState {
  model: Model;
  optimizer: Optimizer;
  /** The weights' moving average (a model of the same spec) and how many updates it has folded in. */
  average?: { model: Model; updates: number };
  /** The training subsets of the checkpoint this run continued from, if any (see trainedOnOf). */
  trainedBefore: TrainingSubset[];
  datasetHash: string;
}

function toCheckpoint(config: RunConfig, state: TrainingState, epoch: number, step: number, position?: EpochPosition): Checkpoint {
  const { model, optimizer, average, trainedBefore, datasetHash } = state;
  const optimizerState = optimizer.state();
  const own = trainingSubsetOf(config);
  const stored = (t: tf.Tensor) => ({ shape: t.shape, data: t.dataSync() as Float32Array });
  const checkpoint = {
    config,
    epoch,
    step,
    weights: model.params.map(stored),
    optimizer: { iterations: optimizerState.iterations, tensors: optimizerState.tensors.map(stored) },
    ...(average ? { average: { updates: average.updates, weights: average.model.params.map(stored) } } : {}),
    trainedOn: [...trainedBefore.filter((s) => !sameSubset(s, own)), own],
    datasetHash,
    ...(position ? { position } : {}),
  };
  tf.dispose(optimizerState.tensors);
  return checkpoint;
}

/** What would make a training step need less memory, for an OUT_OF_MEMORY error. */
function memoryAdvice(config: RunConfig): string {
  const { solver } = config.model;
  const direct = usesSolverSpec(config.model.name) && solver.gradient === 'direct';
  return (
    (direct
      ? `the direct gradient keeps every solver step of a batch for the backward pass (up to maxSteps ${solver.maxSteps}); ` +
        'try --gradient adjoint (memory constant in the steps), looser --rtol/--atol, a lower --max-steps, or '
      : 'try ') + `a smaller --batch-size (${config.batchSize})`
  );
}

/**
 * Why the weights are no use after an epoch, if they are not: a parameter holding NaN or ±Inf (an update can blow
 * them up on a batch whose loss was still finite), or a non-finite test loss. Such weights are never checkpointed.
 */
function divergedWeights(model: Model, testLoss: number): string | undefined {
  const bad = firstNonFinite(model.params.map((p) => ({ shape: p.shape, data: p.dataSync() as Float32Array })));
  if (bad) return `the weights became non-finite (${bad.value} in parameter ${bad.tensor}, ${model.params[bad.tensor].name})`;
  if (!Number.isFinite(testLoss)) return `the test loss became ${testLoss}`;
  return undefined;
}

/**
 * Continues from a checkpoint. A run that averages continues the checkpoint's average if it was taken with the
 * same decay, or starts one there (a new run from another run's checkpoint); a run that does not average ignores it.
 */
function restore(state: TrainingState, c: Checkpoint, emaDecay: number): void {
  const { model, optimizer, average } = state;
  state.trainedBefore = trainedOnOf(c);
  loadWeights(model, c.weights);
  const tensors = c.optimizer.tensors.map((t) => tf.tensor(t.data, t.shape));
  try {
    optimizer.restore({ iterations: c.optimizer.iterations, tensors });
  } finally {
    tf.dispose(tensors);
  }
  if (!average) return;
  const continued = c.config.emaDecay === emaDecay ? c.average : undefined;
  // Starting afresh, the copy of the trained weights is only a placeholder: the first update replaces it.
  loadWeights(average.model, continued?.weights ?? c.weights, continued ? 'averaged weight' : 'weight');
  average.updates = continued?.updates ?? 0;
}

/** A run's error as it travels in the 'ended' event: a LabError keeps its code and details, plus where. */
export function errorInfo(e: unknown, where: Record<string, unknown> = {}): RunErrorInfo {
  // The bare reason: whoever shows the error puts the code before it (`MAX_STEPS: …`), once.
  if (e instanceof LabError) return { code: e.code, message: e.reason, details: { ...e.details, ...where } };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), details: where };
}

export async function train(config: RunConfig, opts: TrainOptions): Promise<EndedEvent> {
  const owned: { pool?: GradientWorkerPool } = {};
  try {
    return await trainWith(config, opts, owned);
  } finally {
    // Worker threads keep the process alive: stop them however training ends, exceptions included.
    await owned.pool?.dispose();
  }
}

async function trainWith(config: RunConfig, opts: TrainOptions, owned: { pool?: GradientWorkerPool }): Promise<EndedEvent> {
  const started = performance.now();
  const { dataset } = opts;
  const split = trainingSplit(config, dataset);
  const ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed };
  const model = buildModel(config.model, ctx);
  const perEpoch = batchCount(split.labels.length, config.batchSize);
  // Cosine anneals over this run's updates (train --resume with more --epochs plans it anew); step decays at fixed
  // epochs of the update count, whatever the run's length.
  const optimizer = createOptimizer(config.optimizer, model.params, { totalSteps: config.epochs * perEpoch, batchesPerEpoch: perEpoch });
  // Built from the same spec and seed, the averaged model starts as a copy of the trained one.
  const average = config.emaDecay > 0 ? { model: buildModel(config.model, ctx), updates: 0 } : undefined;
  const state: TrainingState = { model, optimizer, average, trainedBefore: [], datasetHash: datasetContentHash(dataset) };
  /** The weights every evaluation scores. */
  const scored = average?.model ?? model;
  let epoch = 0;
  let step = 0;
  /** A resume point's place in epoch `epoch + 1`, from the checkpoint continued. */
  let resumedAt: EpochPosition | undefined;
  /** Set when a new run starts from a checkpoint trained on another copy of its dataset. */
  let datasetNote: string | undefined;
  const finish = async (status: EndedEvent['status'], error?: RunErrorInfo): Promise<EndedEvent> => {
    await owned.pool?.dispose();
    optimizer.dispose();
    tf.dispose(model.params);
    if (average) tf.dispose(average.model.params);
    const ended: EndedEvent = {
      event: 'ended',
      status,
      epochsCompleted: epoch,
      step,
      seconds: (performance.now() - started) / 1000,
      ...(error ? { error } : {}),
    };
    opts.onEvent(ended);
    return ended;
  };

  if (opts.resumeFrom) {
    try {
      const c = decodeCheckpoint(opts.resumeFrom);
      // Set first: if the restore fails, the ended event still says where the run stood.
      epoch = c.epoch;
      step = c.step;
      const change = datasetChange(c, dataset, state.datasetHash);
      // Before the started event: the store would record the loaded copy as the run's dataset.
      if (change && opts.continuing) {
        const { dataset: name, trained, loaded } = change;
        return finish('failed', {
          code: 'DATASET_CHANGED',
          message: continuingMessage(change, c.epoch),
          details: { field: 'dataset', dataset: name, trained, loaded, resuming: true },
        });
      }
      if (change) datasetNote = startingNote(change);
      restore(state, c, config.emaDecay);
      resumedAt = c.position;
    } catch (e) {
      // A checkpoint that is corrupt or belongs to another model or configuration: the run cannot start.
      return finish('failed', errorInfo(e, { resuming: true }));
    }
  }

  // After the restore, so the ended event says where a resumed run stood.
  if (config.trainSize !== undefined && config.trainSize > dataset.train.labels.length) {
    const message = `trainSize ${config.trainSize} is more than the ${dataset.train.labels.length} training images of ${dataset.name}`;
    return finish('failed', { code: 'INVALID_ARGUMENT', message, details: { field: 'trainSize', trainSize: config.trainSize } });
  }
  if (config.testSize !== undefined && config.testSize > dataset.test.labels.length) {
    const message = `testSize ${config.testSize} is more than the ${dataset.test.labels.length} test images of ${dataset.name}`;
    return finish('failed', { code: 'INVALID_ARGUMENT', message, details: { field: 'testSize', testSize: config.testSize } });
  }
  /** What every test-set evaluation scores: the epoch's end all of it, an in-epoch one (evalEvery) its first evalSize. */
  const tested = testingSplit(config, dataset);
  if ((opts.workers ?? 1) > 1) {
    try {
      const backend = opts.backend as BackendName;
      owned.pool = await GradientWorkerPool.create({ spec: config.model, ctx, backend, workers: opts.workers });
    } catch (e) {
      return finish('failed', errorInfo(e, { workers: opts.workers }));
    }
  }
  const trainStep = owned.pool ? pooledStep(model, optimizer, owned.pool) : localStep(model, optimizer, ctx.classes);

  const batchOpts = {
    batchSize: config.batchSize,
    imageShape: dataset.imageShape,
    normalisation: config.normalisation,
    seed: config.seed,
    // Training batches only: evaluations build their own (evaluate.ts), uncropped.
    ...(config.augment === 'crop' ? { cropPadding: config.augmentPadding } : {}),
  };
  if (resumedAt && resumedAt.batches > perEpoch) {
    // checkResumable refuses another batch size or seed; a dataset of another size can still get here.
    const message = `the checkpoint is a resume point after batch ${resumedAt.batches} of epoch ${epoch + 1}, which has ${perEpoch} batches here`;
    return finish('failed', { code: 'INVALID_ARGUMENT', message, details: { field: 'checkpoint', resuming: true } });
  }
  opts.onEvent({
    event: 'started',
    config,
    backend: opts.backend,
    ...(opts.backendNote ? { backendNote: opts.backendNote } : {}),
    ...(datasetNote ? { datasetNote } : {}),
    parameterCount: parameterCount(model),
    trainSize: split.labels.length,
    testSize: tested.labels.length,
    batchesPerEpoch: perEpoch,
    startEpoch: epoch,
    startStep: step,
    ...(resumedAt ? { startBatch: resumedAt.batches } : {}),
    datasetSource: dataset.source.kind,
    dataset: {
      name: dataset.name,
      spec: dataset.spec,
      source: dataset.source,
      contentHash: state.datasetHash,
      classes: dataset.classes,
      trainCount: split.labels.length,
      testCount: dataset.test.labels.length,
    },
  });
  const recordStepSizes = config.model.name !== 'mlp' && config.model.name !== 'resnet' && solverInfo(config.model.solver.method).adaptive;
  const evalOpts = evaluationOptions(config, dataset);
  const testing = (epoch: number, step: number) =>
    opts.onTesting && ((done: number, total: number) => opts.onTesting!({ epoch, step, done, total }));
  const lastEpoch = Math.min(config.epochs, opts.stopAfterEpoch ?? config.epochs);
  /** A failure as the run reports it; memory exhausted is told with what would make this run need less. */
  const failure = (e: unknown, where: Record<string, unknown>) => errorInfo(outOfMemoryError(e, memoryAdvice(config)) ?? e, where);

  let current = epoch + 1; // the epoch in progress, for error reports
  /** The step and time of the last checkpoint or resume point (or of the start): what a new resume point adds to. */
  let saved = { step, at: performance.now() };
  const periodMs = (opts.resumePointMinutes ?? 0) * 60_000;
  /** The epoch in progress's tallies, until its epoch event. */
  let tally: EpochTally | undefined;
  /** An in-epoch evaluation (evalEvery) is under way: a cancel now leaves it for the resumed run to do. */
  let evaluatingInEpoch = false;
  /** The in-epoch evaluation after `step`: the first evalSize test images (of a --test-size subset, if any). */
  const evaluateInEpoch = async () => {
    evaluatingInEpoch = true;
    const sample = head(tested, config.evalSize);
    const e = await evaluate(scored, sample, evalOpts, { pool: owned.pool, signal: opts.signal, onProgress: testing(current, step) });
    evaluatingInEpoch = false;
    opts.onEvent({
      event: 'evaluation',
      epoch: current,
      step,
      testLoss: e.loss,
      testAccuracy: e.accuracy,
      evaluated: e.count,
      nfeForward: e.nfeForwardMean,
    });
  };
  /**
   * Saves a resume point for the epoch in progress, when there is one to save: batches done since the last
   * checkpoint, and finite weights (never a resume point that holds NaN; the run ends diverged soon enough).
   */
  const saveResumePoint = async (): Promise<void> => {
    if (!opts.saveResumePoint || !tally || tally.batches === 0 || step === saved.step) return;
    const position = { ...tally.position(), ...(evaluatingInEpoch ? { evaluationPending: true as const } : {}) };
    const checkpoint = toCheckpoint(config, state, epoch, step, position);
    const stored = [...checkpoint.weights, ...checkpoint.optimizer.tensors, ...(checkpoint.average?.weights ?? [])];
    if (firstNonFinite(stored)) return;
    const bytes = encodeCheckpoint(checkpoint);
    const at = { epoch: epoch + 1, batch: tally.batches, step };
    await opts.saveResumePoint(bytes, at);
    saved = { step, at: performance.now() };
    opts.onEvent({ event: 'checkpoint', ...at, bytes: bytes.length });
  };
  /** Cancelled between batches or in an evaluation: the epoch so far is kept as a resume point, then the run ends. */
  const cancelled = async (): Promise<EndedEvent> => {
    try {
      await saveResumePoint();
    } catch (e) {
      return finish('failed', failure(e, { epoch: current, step, savingResumePoint: true }));
    }
    return finish('cancelled');
  };

  // Anything unforeseen (a dataset or checkpoint write failing, say) still ends the run, saying where.
  try {
    while (epoch < lastEpoch) {
      current = epoch + 1;
      // A resumed run's first epoch goes on from its resume point: the batches done are skipped, never built.
      tally = new EpochTally(resumedAt);
      const pendingEvaluation = resumedAt?.evaluationPending === true;
      resumedAt = undefined;
      let batchIndex = tally.batches;
      // Stopped in the evaluation after its last batch: do it now, as the uninterrupted run did then.
      if (pendingEvaluation) await evaluateInEpoch();
      for (const batch of batches(split, { ...batchOpts, epoch: current, skip: batchIndex })) {
        // A training step is synchronous work between microtasks: give the event loop a turn each batch, or a
        // cancel message (or the parent's disconnect) would wait for the epoch's end.
        await new Promise((resolve) => setImmediate(resolve));
        if (opts.signal?.aborted) {
          disposeBatch(batch);
          return await cancelled();
        }
        batchIndex++;
        const batchStart = performance.now();
        let result: StepResult;
        try {
          result = await trainStep(batch);
        } catch (e) {
          disposeBatch(batch);
          const where = { epoch: current, batch: batchIndex, step: step + 1 };
          if (e instanceof LabError && e.code === 'NON_FINITE') return finish('diverged', errorInfo(e, where));
          return finish('failed', failure(e, where));
        }
        disposeBatch(batch);
        step++;
        const { loss: lossValue, correct, nfeForward, nfeBackward } = result;
        if (!Number.isFinite(lossValue)) {
          return finish('diverged', {
            code: 'NON_FINITE',
            message: `the loss became ${lossValue} at epoch ${current}, batch ${batchIndex} (step ${step}); lower the learning rate`,
            details: { epoch: current, batch: batchIndex, step, loss: String(lossValue) },
          });
        }
        if (average) updateAverage(average.model.params, model.params, config.emaDecay, ++average.updates);
        tally.add({ ...result, loss: lossValue, size: batch.size });
        opts.onEvent({
          event: 'batch',
          epoch: current,
          batch: batchIndex,
          step,
          loss: lossValue,
          accuracy: correct / batch.size,
          nfeForward,
          nfeBackward,
          seconds: (performance.now() - batchStart) / 1000,
          ...(recordStepSizes && result.stepSizes ? { stepSizes: result.stepSizes } : {}),
        });
        if (config.evalEvery > 0 && step % config.evalEvery === 0 && batchIndex < perEpoch) await evaluateInEpoch();
        if (periodMs > 0 && performance.now() - saved.at >= periodMs) await saveResumePoint();
      }
      const test = await evaluate(scored, tested, evalOpts, { pool: owned.pool, signal: opts.signal, onProgress: testing(current, step) });
      const blownUp = divergedWeights(model, test.loss);
      if (blownUp) {
        return finish('diverged', {
          code: 'NON_FINITE',
          message: `${blownUp} by the end of epoch ${current} (step ${step}); lower the learning rate`,
          details: { epoch: current, step, evaluating: true },
        });
      }
      epoch = current;
      const trained = tally.summary();
      tally = undefined;
      opts.onEvent({
        event: 'epoch',
        epoch,
        step,
        loss: trained.loss,
        accuracy: trained.accuracy,
        testLoss: test.loss,
        testAccuracy: test.accuracy,
        nfeForwardMean: trained.nfeForwardMean,
        nfeForwardMax: trained.nfeForwardMax,
        nfeBackwardMean: trained.nfeBackwardMean,
        nfeBackwardMax: trained.nfeBackwardMax,
        stepsAccepted: trained.stepsAccepted,
        stepsRejected: trained.stepsRejected,
        testNfeForwardMean: test.nfeForwardMean,
        seconds: trained.seconds,
        peakTensorBytes: trained.peakTensorBytes,
        rssBytes: process.memoryUsage().rss,
        confusion: test.confusion,
        // Indices into the test split, as the store and `odelab eval` read them, not into the subset scored.
        misclassified: inSplit(test.misclassified, tested.indices),
      });
      if (opts.saveCheckpoint) {
        const bytes = encodeCheckpoint(toCheckpoint(config, state, epoch, step));
        await opts.saveCheckpoint(bytes, epoch, step);
        saved = { step, at: performance.now() };
        opts.onEvent({ event: 'checkpoint', epoch, step, bytes: bytes.length });
      }
    }
  } catch (e) {
    // A cancel that lands in an evaluation stops it with CANCELLED: the run was cancelled, it did not fail. Cut
    // short at the epoch's end, its resume point holds every batch: resumed, it only scores the test set again.
    if (opts.signal?.aborted) return cancelled();
    // Weights that blew up without a non-finite batch loss can still make an evaluation's ODE state non-finite.
    if (e instanceof LabError && e.code === 'NON_FINITE') {
      const info = errorInfo(e, { epoch: current, step, evaluating: true });
      const message = `evaluating at epoch ${current}, step ${step}: ${info.message}; lower the learning rate`;
      return finish('diverged', { ...info, message });
    }
    return finish('failed', failure(e, { epoch: current, step }));
  }
  return finish('completed');
}
