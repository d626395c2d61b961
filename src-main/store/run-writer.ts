/**
 * Writes one run's event stream into the store. Batch rows are buffered and written together (one transaction
 * per flush, at most every `flushMs` or `flushRows`), so storing stays off the training's critical path; an
 * epoch, its evaluation artefacts, its checkpoint and a resume point are each committed at once, so a kill loses
 * at most the unflushed batch rows of the epoch in progress, never a completed epoch (nor batches before a resume point).
 *
 * Writes are made in order, from a queue: a store another process holds locked for longer than SQLite's busy
 * timeout (an `odelab runs export` of a large store, a backup) leaves them queued and tried again, for up to
 * `busyPatienceMs`, rather than losing them or stopping the run. Any other failure (a full disk, a closed file),
 * or a lock held past that patience, stops the writer: it reports the error once and writes nothing more.
 */
import type { BatchEvent, EpochEvent, RunEvent } from '../../src-shared/run-events';
import type { Db } from './database';
import { saveCheckpoint } from './checkpoints';
import { saveResumePoint } from './resume-points';
import type { ResumePointAt } from '../../src-shared/run-record';
import { upsertDataset } from './datasets';
import type { BatchRow } from './metric-inputs';
import { insertBatchRows } from './metrics';
import { markEnded, markRunning, recordProgress } from './runs';

export interface RunWriterOptions {
  flushMs?: number;
  flushRows?: number;
  /** Training seconds already spent on this run before this session (a resumed run continues its wall clock). */
  wallSecondsBefore?: number;
  /** How long writes wait, queued, for a store another process keeps locked (default 2 minutes). */
  busyPatienceMs?: number;
  /** Writes have started to wait for a locked store (once per wait; they go on when it is free). */
  onBusy?: (patienceMs: number) => void;
  /**
   * The store could not be written: the writer has stopped. Default: throw (from the write() or flush() that
   * met the failure; from a timed flush, uncaught).
   */
  onError?: (e: unknown) => void;
}

/** Between tries on a locked store; each try itself waits up to the connection's busy_timeout. */
const BUSY_RETRY_MS = 1000;

/** SQLite's "another connection holds the lock" (after busy_timeout): worth waiting out. */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function perClassAccuracy(confusion: number[][]): (number | null)[] {
  return confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[i] / total;
  });
}

function int32Blob(values: readonly number[]): Buffer {
  return Buffer.from(Int32Array.from(values).buffer);
}

function float64Blob(values: readonly number[]): Buffer {
  return Buffer.from(Float64Array.from(values).buffer);
}

export class RunWriter {
  private pending: BatchRow[] = [];
  private pendingStepSizes: { step: number; sizes: number[] }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Writes not yet made, in order (each one transaction). */
  private queue: (() => void)[] = [];
  private retry: NodeJS.Timeout | undefined;
  private busySince: number | undefined;
  private failure: { error: unknown } | undefined;
  private waiting: (() => void)[] = [];
  private readonly sessionStart = performance.now();
  private readonly flushMs: number;
  private readonly flushRows: number;
  private readonly wallBefore: number;
  private readonly busyPatienceMs: number;
  private readonly onError: (e: unknown) => void;
  private readonly onBusy: (patienceMs: number) => void;
  private lastStep = 0;
  /** Seconds spent in this writer's database work, to show what storing costs. */
  storeSeconds = 0;

  constructor(
    private readonly db: Db,
    readonly runId: number,
    opts: RunWriterOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 1000;
    this.flushRows = opts.flushRows ?? 500;
    this.wallBefore = opts.wallSecondsBefore ?? 0;
    this.busyPatienceMs = opts.busyPatienceMs ?? 120_000;
    this.onBusy = opts.onBusy ?? (() => {});
    this.onError =
      opts.onError ??
      ((e) => {
        throw e;
      });
  }

  private wallSeconds(): number {
    return this.wallBefore + (performance.now() - this.sessionStart) / 1000;
  }

  /** The error that stopped the writer, if one did. */
  get failed(): { error: unknown } | undefined {
    return this.failure;
  }

  /** Resolves once every write asked for so far is made, or the writer has stopped. */
  settled(): Promise<void> {
    if (this.queue.length === 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private enqueue(write: () => void): void {
    if (this.failure) return;
    this.queue.push(write);
    if (this.retry === undefined) this.drain();
  }

  /** Makes the queued writes in order; stops at a locked store (tried again later) or a failure. */
  private drain(): void {
    this.retry = undefined;
    while (this.queue.length > 0 && !this.failure) {
      const t0 = performance.now();
      try {
        this.queue[0]();
        this.queue.shift();
        this.busySince = undefined;
      } catch (e) {
        const firstWait = this.busySince === undefined;
        if (isBusy(e) && performance.now() - (this.busySince ??= t0) < this.busyPatienceMs) {
          if (firstWait) this.onBusy(this.busyPatienceMs);
          // Kept referenced: what is queued must be written before the process may exit.
          this.retry = setTimeout(() => this.drain(), BUSY_RETRY_MS);
          return;
        }
        this.stop(e);
      } finally {
        this.storeSeconds += (performance.now() - t0) / 1000;
      }
    }
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach((resolve) => resolve());
  }

  private stop(e: unknown): void {
    this.failure = { error: e };
    this.queue = [];
    this.pending = [];
    this.pendingStepSizes = [];
    clearTimeout(this.timer);
    this.onError(e);
  }

  write(event: RunEvent): void {
    switch (event.event) {
      case 'started':
        return this.enqueue(() =>
          this.db.transaction(() => {
            const datasetId = upsertDataset(this.db, event.dataset);
            markRunning(this.db, this.runId, {
              backend: event.backend,
              parameterCount: event.parameterCount,
              trainSize: event.trainSize,
              testSize: event.testSize,
              batchesPerEpoch: event.batchesPerEpoch,
              datasetId,
            });
          }).immediate(), // read, then write: wait for the lock rather than fail on it (SQLITE_BUSY)
        );
      case 'batch':
        return this.queueBatch(event);
      case 'evaluation':
        return this.enqueue(() => {
          this.db
            .prepare(
              `INSERT OR REPLACE INTO evaluations (run_id, step, epoch, test_loss, test_accuracy, evaluated, nfe_forward)
               VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(this.runId, event.step, event.epoch, event.testLoss, event.testAccuracy, event.evaluated, event.nfeForward);
        });
      case 'epoch':
        return this.writeEpoch(event);
      case 'checkpoint':
        return; // the bytes arrive through writeCheckpoint; the event only says where they went
      case 'ended': {
        this.flush();
        const wallSeconds = this.wallSeconds();
        return this.enqueue(() =>
          this.db.transaction(() => {
            // Never below what is stored: a run started from a checkpoint stands at its step before any batch.
            const stored = this.db.prepare('SELECT steps_completed FROM runs WHERE id = ?').pluck().get(this.runId) as number;
            recordProgress(this.db, this.runId, { stepsCompleted: Math.max(event.step, this.lastStep, stored), wallSeconds });
            markEnded(this.db, this.runId, event.status, event.error);
          }).immediate(),
        );
      }
    }
  }

  writeCheckpoint(c: { epoch: number; step: number; data: Uint8Array }): void {
    this.enqueue(() => saveCheckpoint(this.db, this.runId, c));
  }

  /**
   * Replaces the run's resume point. The batch rows up to it are written first: a process killed right after must
   * leave no step before the point without its row (resuming deletes only the rows after it).
   */
  writeResumePoint(p: ResumePointAt & { data: Uint8Array }): void {
    this.flush();
    const wallSeconds = this.wallSeconds();
    this.enqueue(() => saveResumePoint(this.db, this.runId, { ...p, wallSeconds }));
  }

  private queueBatch(e: BatchEvent): void {
    if (this.failure) return;
    this.lastStep = e.step;
    this.pending.push({
      step: e.step,
      epoch: e.epoch,
      batch: e.batch,
      loss: e.loss,
      accuracy: e.accuracy,
      nfeForward: e.nfeForward,
      nfeBackward: e.nfeBackward,
      seconds: e.seconds,
      wallSeconds: this.wallSeconds(),
    });
    if (e.stepSizes?.length) this.pendingStepSizes.push({ step: e.step, sizes: e.stepSizes });
    if (this.pending.length >= this.flushRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs).unref();
  }

  /** Queues the buffered batch rows (and their step sizes) as one transaction. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const rows = this.pending;
    const sizes = this.pendingStepSizes;
    this.pending = [];
    this.pendingStepSizes = [];
    this.enqueue(() =>
      this.db.transaction(() => {
        insertBatchRows(this.db, this.runId, rows);
        const insertSizes = this.db.prepare('INSERT OR REPLACE INTO step_sizes (run_id, step, sizes) VALUES (?, ?, ?)');
        for (const s of sizes) insertSizes.run(this.runId, s.step, float64Blob(s.sizes));
        recordProgress(this.db, this.runId, { stepsCompleted: rows[rows.length - 1].step, wallSeconds: rows[rows.length - 1].wallSeconds });
      })(),
    );
  }

  private writeEpoch(e: EpochEvent): void {
    this.flush();
    const wall = this.wallSeconds();
    this.enqueue(() =>
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT OR REPLACE INTO epoch_metrics (run_id, epoch, step, loss, accuracy, test_loss, test_accuracy,
               nfe_forward_mean, nfe_forward_max, nfe_backward_mean, nfe_backward_max, steps_accepted, steps_rejected,
               test_nfe_forward_mean, seconds, wall_seconds, peak_tensor_bytes, rss_bytes)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            this.runId, e.epoch, e.step, e.loss, e.accuracy, e.testLoss, e.testAccuracy, e.nfeForwardMean, e.nfeForwardMax,
            e.nfeBackwardMean, e.nfeBackwardMax, e.stepsAccepted, e.stepsRejected, e.testNfeForwardMean, e.seconds, wall,
            e.peakTensorBytes, e.rssBytes,
          );
        this.db
          .prepare(
            `INSERT OR REPLACE INTO confusion_matrices (run_id, epoch, matrix_json, per_class_accuracy_json, misclassified)
             VALUES (?, ?, ?, ?, ?)`,
          )
          .run(this.runId, e.epoch, JSON.stringify(e.confusion), JSON.stringify(perClassAccuracy(e.confusion)), int32Blob(e.misclassified ?? []));
        recordProgress(this.db, this.runId, { epochsCompleted: e.epoch, stepsCompleted: e.step, wallSeconds: wall });
      })(),
    );
  }

  /** Queues what is buffered and stops the timer (the run's events are over, or the writer is abandoned). */
  close(): void {
    this.flush();
  }
}
