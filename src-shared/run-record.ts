/**
 * A run as the run store keeps it and the CLI and UI show it: lifecycle status, config, outcome and headline
 * metrics. Plain data (no Node, no SQLite), so it can cross IPC and HTTP as is.
 */
import type { RunConfig, RunStatus } from './run-config';
import type { RunErrorInfo } from './run-events';

/** Ended statuses plus the store's own: waiting in the queue, training now, or cut off by a dead process. */
export const STORED_RUN_STATUSES = ['queued', 'running', 'completed', 'cancelled', 'diverged', 'failed', 'interrupted'] as const;
export type StoredRunStatus = (typeof STORED_RUN_STATUSES)[number];
export type { RunStatus };

/** Statuses a run can be resumed from (in place, from its last checkpoint). */
export const RESUMABLE_STATUSES: readonly StoredRunStatus[] = ['interrupted', 'failed', 'cancelled'];

/** Losses are null where they were not finite numbers (a diverging model). */
export interface FinalMetrics {
  epoch: number;
  loss: number | null;
  accuracy: number;
  testLoss: number | null;
  testAccuracy: number;
}

export interface BestMetrics {
  testAccuracy: number;
  epoch: number;
  testLoss: number | null;
  testLossEpoch: number | null;
}

export interface RunSummary {
  id: number;
  name: string;
  status: StoredRunStatus;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  model: string;
  dataset: string;
  method: string;
  seed: number;
  backend: string | null;
  tags: string[];
  notes: string;
  parentId: number | null;
  epochsCompleted: number;
  stepsCompleted: number;
  wallSeconds: number;
  error: RunErrorInfo | null;
  final: FinalMetrics | null;
  best: BestMetrics | null;
}

export interface CheckpointInfo {
  epoch: number;
  step: number;
  bytes: number;
  createdAt: string;
}

/** Where a resume point (a checkpoint inside an epoch) stands: the epoch in progress, 1-based, its batches done (as
 * batch metrics number them) and the run's step. */
export interface ResumePointAt {
  epoch: number;
  batch: number;
  step: number;
}

/** A run's resume point: where it stands, and when it was saved. */
export interface ResumePointInfo extends ResumePointAt {
  /** The run's wall clock (training seconds) there. */
  wallSeconds: number;
  bytes: number;
  createdAt: string;
}

/** The checkpoint file a run was started from (`odelab train --resume <file>`), as it was when read. */
export interface StartedFrom {
  /** Absolute, on the machine that read it. */
  file: string;
  sha256: string;
  /** Epochs the checkpoint had completed. */
  epoch: number;
  step: number;
  /** A resume point: the batches of epoch `epoch + 1` it had done (absent: an epoch-end checkpoint). */
  batch?: number;
}

export interface RunDetail extends RunSummary {
  /** The run's UUID: the same in every store it is exported to (run ids differ from store to store). */
  uid: string;
  config: RunConfig;
  configHash: string;
  parameterCount: number | null;
  trainSize: number | null;
  testSize: number | null;
  batchesPerEpoch: number | null;
  datasetId: number | null;
  /** The folder the run also keeps its files in (--out), on the machine that ran it. */
  outDir: string | null;
  /** Set for a run started from a checkpoint file; `parentId` names the run that wrote it when it is in this store. */
  startedFrom: StartedFrom | null;
  /** A stop asked of the process that owns the run (`odelab runs cancel`), until the run ends. */
  cancelRequested: CancelRequest | null;
  checkpoints: CheckpointInfo[];
  /** Its resume point, when it has one later than its last epoch-end checkpoint (runs resume continues from it). */
  resumePoint: ResumePointInfo | null;
}

/** How a run is asked to stop: after its current batch, or now (its training process killed). */
export const CANCEL_REQUESTS = ['after-batch', 'now'] as const;
export type CancelRequest = (typeof CANCEL_REQUESTS)[number];
