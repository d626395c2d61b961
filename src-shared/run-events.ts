/**
 * What a training run reports, in order: started → (batch | evaluation | checkpoint with batch)* → epoch → checkpoint
 * … → ended (a cancelled run's last checkpoint before it: its resume point).
 * The same objects travel from the training process to the runner, the CLI's JSON lines and (later) the UI.
 */
import type { LabErrorCode } from './errors';
import type { RunConfig, RunStatus } from './run-config';

/** What a run trained on, so the run store can tell two copies of a dataset apart. */
export interface DatasetFacts {
  name: string;
  /** The dataset spec with defaults filled in. */
  spec: unknown;
  /** Where the bytes came from (data directory, system copy, generator, …). */
  source: unknown;
  /** SHA-256 (hex) over the training and test images and labels. */
  contentHash: string;
  classes: string[];
  trainCount: number;
  testCount: number;
}

export interface StartedEvent {
  event: 'started';
  config: RunConfig;
  backend: string;
  /** Set when the run fell back to a much slower backend than this machine should have, and why. */
  backendNote?: string;
  /**
   * Set when the run starts from a checkpoint (train --resume) trained on another copy of its dataset (another
   * content hash): its weights were trained on other images. (A run that continues, runs resume, is refused instead.)
   */
  datasetNote?: string;
  parameterCount: number;
  trainSize: number;
  testSize: number;
  batchesPerEpoch: number;
  /** Epochs and steps already done when resuming from a checkpoint (0 for a fresh run). */
  startEpoch: number;
  startStep: number;
  /** Resuming from a resume point: the batches of epoch startEpoch + 1 it had done (skipped, not trained again). */
  startBatch?: number;
  datasetSource: string;
  dataset: DatasetFacts;
}

export interface BatchEvent {
  event: 'batch';
  /** 1-based epoch and batch within it; `step` counts batches over the whole run. */
  epoch: number;
  batch: number;
  step: number;
  loss: number;
  accuracy: number;
  nfeForward: number;
  nfeBackward: number;
  seconds: number;
  /** Adaptive solvers: the accepted step sizes of this batch's forward solve (first ODE block). */
  stepSizes?: number[];
}

export interface EvaluationEvent {
  event: 'evaluation';
  epoch: number;
  step: number;
  testLoss: number;
  testAccuracy: number;
  /** How many test images this evaluation used. */
  evaluated: number;
  nfeForward: number;
}

export interface EpochEvent {
  event: 'epoch';
  epoch: number;
  step: number;
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  nfeForwardMean: number;
  nfeForwardMax: number;
  nfeBackwardMean: number;
  nfeBackwardMax: number;
  /** Solver steps of the epoch's forward solves, accepted and rejected: totals over its batches (not means). */
  stepsAccepted: number;
  stepsRejected: number;
  /** Forward NFE of the test-set evaluation, per batch. */
  testNfeForwardMean: number;
  seconds: number;
  /** Largest tfjs tensor memory seen after a batch's backward pass, in bytes. */
  peakTensorBytes: number;
  rssBytes: number;
  /** Test-set confusion matrix, rows = true class, columns = predicted. */
  confusion: number[][];
  /** Indices (into the test split) of the test images the model got wrong. */
  misclassified: number[];
}

export interface CheckpointEvent {
  event: 'checkpoint';
  /** The epoch completed; with `batch`, the epoch in progress (as batch events number it). */
  epoch: number;
  /**
   * Set for a resume point (a checkpoint inside an epoch, taken on a cancel or every --checkpoint-every minutes):
   * the batches of `epoch` done. `runs resume` continues after it.
   */
  batch?: number;
  step: number;
  /** The file the runner wrote it to, when the run has an output folder (the run store keeps it either way). */
  path?: string;
  bytes: number;
}

/**
 * How far a test-set evaluation has got (the epoch's, or an evalEvery one), for a progress display: not a
 * RunEvent, so neither recorded nor among the JSON lines on stdout (`train --json` tells it on stderr). `step` is
 * the training step it scores.
 */
export interface TestingProgress {
  epoch: number;
  step: number;
  /** Images scored so far, of `total`. */
  done: number;
  total: number;
}

export interface RunErrorInfo {
  code: LabErrorCode | 'CRASHED' | 'INTERNAL';
  message: string;
  details?: Record<string, unknown>;
}

export interface EndedEvent {
  event: 'ended';
  status: RunStatus;
  epochsCompleted: number;
  step: number;
  seconds: number;
  error?: RunErrorInfo;
}

export type RunEvent = StartedEvent | BatchEvent | EvaluationEvent | EpochEvent | CheckpointEvent | EndedEvent;
