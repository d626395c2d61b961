/**
 * LabService: the one facade the CLI (and later the Electron and serve bridges) call. It starts runs in the
 * Runner and records each one in the run store as its events arrive; it resumes interrupted runs in place.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { isLabError, LabError } from '../../src-shared/errors';
import { readStoredConfig, usesSolverSpec, type RunConfig } from '../../src-shared/run-config';
import { solverInfo } from '../../src-shared/solvers';
import { RESUMABLE_STATUSES } from '../../src-shared/run-record';
import {
  claimRun,
  createRun,
  deleteBatchesAfter,
  deleteResumePointUpTo,
  loadResumePoint,
  saveResumePoint,
  getRun,
  latestCheckpointEpoch,
  loadCheckpoint,
  markEnded,
  markTakenOver,
  pendingCancel,
  THIS_PROCESS,
  recordProgress,
  RunWriter,
  saveCheckpoint,
  runWithCheckpoint,
  type RunStore,
} from '../store';
import { Runner, type RunHandle, type RunRequest } from './runner';
import { checkRunFolder, claimRunFolder, prepareRunFolder, releaseRunFolder, type FolderOwner } from './run-folder';
import { checkResumable, decodeCheckpoint } from '../engine/train/checkpoint';
import { checkBackendRequest } from '../engine/backend-request';
import { checkWorkerMemory } from '../engine/parallel/worker-memory';
import { defaultDataDir } from '../data/dataDir';
import { plannedImages } from '../data/planned-images';
import type { CheckpointData } from './protocol';
import type { EndedEvent, RunErrorInfo, RunEvent } from '../../src-shared/run-events';

export type LaunchOptions = Pick<RunRequest, 'dataDir' | 'backend' | 'workers' | 'outDir' | 'resumePointMinutes'>;

/**
 * How often a run takes a resume point unless told (--checkpoint-every): an interrupted run loses at most this many
 * minutes. A save costs a few tens of milliseconds (the weights, the optimiser's state and their SHA-256).
 */
export const DEFAULT_RESUME_POINT_MINUTES = 10;

export interface RecordedRun {
  runId: number;
  handle: RunHandle;
  writer: RunWriter;
  /**
   * The run's end as the store records it, once everything before it is written: the training process's 'ended',
   * or `failed` (IO_ERROR) when the store could not be written and the run was stopped for it.
   */
  ended: Promise<EndedEvent>;
  /** What the user should know that did not stop the run (a resumed run's folder that had gone, say). */
  warnings: string[];
}

/** How often a running run's owner looks in the store for a cancel request from another process. */
const CANCEL_POLL_MS = 500;

/**
 * What would fail the run in its training process, after the run is created (a resumed run would lose its real
 * error to it), yet can be seen from here: refused first. A backend that is not one, or `tensorflow` uninstalled;
 * a trainSize or testSize above the training or test images the dataset will have (plannedImages); a data
 * directory that is a file; more worker threads than the machine's memory holds. Other problems (permissions, a full disk) still surface from the process, naming what failed.
 */
function checkLaunch(config: RunConfig, opts: LaunchOptions): void {
  checkBackendRequest({ backend: opts.backend });
  if (opts.workers !== undefined) checkWorkerMemory(opts.workers);
  const dataDir = opts.dataDir ?? defaultDataDir();
  const subsets = [
    { field: 'trainSize', size: config.trainSize, split: 'train', what: 'training' },
    { field: 'testSize', size: config.testSize, split: 'test', what: 'test' },
  ] as const;
  for (const { field, size, split, what } of subsets) {
    const planned = size === undefined ? undefined : plannedImages(config.dataset, dataDir, split);
    if (size === undefined || planned === undefined || size <= planned.images) continue;
    const { images, customCopy } = planned;
    // A copy of the user's own may be why (imported since the run began, say): name it.
    const which = customCopy ? ` (the copy in ${customCopy}: a dataset of your own, imported with --force)` : '';
    throw new LabError('INVALID_ARGUMENT', `${field} ${size} is more than the ${images} ${what} images of this ${config.dataset.kind} dataset${which}`, {
      field,
      [field]: size,
      [`${split}Images`]: images,
    });
  }
  const dir = opts.dataDir;
  if (dir && existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new LabError('INVALID_ARGUMENT', `--data-dir ${dir} is a file, not a folder`, { field: 'dataDir', path: dir });
  }
}

/**
 * What the user should know about a launch that does not stop it: more worker threads than cores make every batch
 * slower (the shards wait for each other at each solver step; 64 on 2 cores turned a 5 s test set into 90 s).
 */
function launchWarnings(request: RunRequest): string[] {
  const cores = availableParallelism();
  const warnings: string[] = [];
  if ((request.workers ?? 1) > cores) {
    warnings.push(`--workers ${request.workers} is more than this machine's ${cores} cores: each batch waits for shards that share a core, so training is slower than with --workers ${cores}`);
  }
  const adjointNote = firstOrderAdjointNote(request.config);
  if (adjointNote) warnings.push(adjointNote);
  return warnings;
}

/**
 * The backsolve adjoint rebuilds the forward solution by solving backwards in time. A first-order fixed step does
 * not invert itself that way (the symmetric rk4, implicit midpoint and trapezoidal rules nearly or exactly do), so
 * its gradient carries an O(h) error the direct gradient has not, and implicit Euler run backwards amplifies stiff
 * modes (1/(1 + hλ) per step). Measured on y' = λ(y − cos t), dy(1)/dλ: at λ = −5, step 0.1, direct 0.0128
 * (implicit-euler), 0.0225 (euler); adjoint −0.161 and 0.0292; exact 0.0175. At λ = −15, step 0.05, implicit-euler's
 * adjoint gives −2905 where direct gives 0.0033.
 */
function firstOrderAdjointNote(config: RunConfig): string | undefined {
  const { name, solver } = config.model;
  if (!usesSolverSpec(name) || solver.gradient !== 'adjoint') return undefined;
  const info = solverInfo(solver.method);
  if (info.adaptive || info.order > 1) return undefined;
  return (
    `--gradient adjoint with ${solver.method}: the adjoint solves backwards in time, which a first-order step does not ` +
    `invert, so its gradients can be far off (on test problems: ${solver.method === 'euler' ? '30% off at step 0.1' : 'of the wrong sign, or 10⁶ times too large on stiffer dynamics'}); ` +
    `--gradient direct is the exact gradient of the solve taken`
  );
}

export type StartOptions = LaunchOptions & {
  resumeFrom?: Uint8Array;
  /** The file it was read from: recorded with the run (startedFrom), wherever the file came from. */
  resumeFile?: string;
  /** How errors name the checkpoint (default: resumeFile). */
  resumeName?: string;
  tags?: string[];
  notes?: string;
  parentId?: number;
};

/**
 * What startRun refuses without the store, touching nothing: a checkpoint to start from that cannot be, what
 * checkLaunch sees, and an --out folder that cannot be used (checkRunFolder). Callers may run it before they open
 * (and so create) the store; startRun runs it anyway.
 */
export function checkStartRequest(config: RunConfig, opts: StartOptions): ReturnType<typeof decodeCheckpoint> | undefined {
  const name = opts.resumeName ?? opts.resumeFile;
  const start = opts.resumeFrom && decodeCheckpoint(opts.resumeFrom, name);
  if (start) checkResumable(start, config, name);
  checkLaunch(config, opts);
  if (opts.outDir !== undefined) checkRunFolder(resolve(opts.outDir));
  return start || undefined;
}

/**
 * Where `runs resume` continues a run: its resume point when that is later than its last epoch-end checkpoint (a
 * later checkpoint deletes the point; one left behind is obsolete, and goes), else that checkpoint, else the start.
 * `epoch`: the epochs it had completed; `wallSeconds`: the run's wall clock there. A damaged checkpoint is
 * STORE_UNREADABLE; a damaged resume point is deleted, the run continuing from the checkpoint before it, and
 * `warning` says so (else the run could never be resumed again).
 */
function resumeStart(db: RunStore['db'], runId: number): { epoch: number; step: number; wallSeconds: number; data?: Uint8Array; warning?: string } {
  const epoch = latestCheckpointEpoch(db, runId);
  const checkpoint = epoch === null ? null : loadCheckpoint(db, runId, epoch);
  let point: ReturnType<typeof loadResumePoint>;
  let warning: string | undefined;
  try {
    point = loadResumePoint(db, runId);
  } catch (e) {
    if (!isLabError(e, 'STORE_UNREADABLE')) throw e;
    deleteResumePointUpTo(db, runId, Number.MAX_SAFE_INTEGER);
    warning = `${e.reason}; it was deleted, and the run continues from ${checkpoint ? `epoch ${checkpoint.epoch}'s checkpoint` : 'its start'}`;
  }
  if (point && point.step > (checkpoint?.step ?? 0)) return { epoch: point.epoch - 1, step: point.step, wallSeconds: point.wallSeconds, data: point.data };
  if (point) deleteResumePointUpTo(db, runId, point.step);
  const keepEpoch = checkpoint?.epoch ?? 0;
  const wall = db.prepare('SELECT wall_seconds FROM epoch_metrics WHERE run_id = ? AND epoch = ?').pluck().get(runId, keepEpoch) as number | undefined;
  return { epoch: keepEpoch, step: checkpoint?.step ?? 0, wallSeconds: wall ?? 0, data: checkpoint?.data, ...(warning ? { warning } : {}) };
}

export class LabService {
  constructor(
    readonly store: RunStore,
    readonly runner: Runner = new Runner(),
    /** How long a run's records wait for a store another process keeps locked (RunWriterOptions). */
    private readonly options: { busyPatienceMs?: number } = {},
  ) {}

  /**
   * Queues a new run, recorded in the store from its first event. What would fail at once (a checkpoint to start
   * from that cannot be, an --out folder that cannot be used) is refused here, before the run is created.
   */
  startRun(config: RunConfig, opts: StartOptions = {}): RecordedRun {
    const start = checkStartRequest(config, opts);
    const outDir = opts.outDir === undefined ? undefined : resolve(opts.outDir);
    if (outDir) prepareRunFolder(outDir); // last: it creates the folder
    const { db } = this.store;
    const runId = this.claimingTransaction((claimFolder) => {
      // A checkpoint file that one of this store's runs wrote (its --out copy) makes that run the parent.
      const parentId = opts.parentId ?? (start ? runWithCheckpoint(db, opts.resumeFrom!) : undefined);
      const startedFrom =
        start && opts.resumeFile
          ? {
              file: resolve(opts.resumeFile),
              sha256: createHash('sha256').update(opts.resumeFrom!).digest('hex'),
              epoch: start.epoch,
              step: start.step,
              ...(start.position ? { batch: start.position.batches } : {}),
            }
          : undefined;
      const id = createRun(db, { config, tags: opts.tags, notes: opts.notes, parentId, outDir, startedFrom });
      // The state the run starts from is its checkpoint at that epoch (a resume point: its resume point there):
      // resumeRun continues from it if the run stops before its own first one, rather than starting over from scratch.
      if (start?.position) {
        const at = { epoch: start.epoch + 1, batch: start.position.batches, step: start.step };
        saveResumePoint(db, id, { ...at, wallSeconds: 0, data: opts.resumeFrom! });
      } else if (start) saveCheckpoint(db, id, { epoch: start.epoch, step: start.step, data: opts.resumeFrom! });
      if (start) recordProgress(db, id, { epochsCompleted: start.epoch, stepsCompleted: start.step, wallSeconds: 0 });
      // Last, in the transaction: a folder that cannot be marked as this run's leaves no run behind.
      if (outDir) claimFolder(outDir, this.folderOwner(id));
      return id;
    });
    return this.launch(runId, { config, ...opts, outDir, ...(start ? { startAt: { epoch: start.epoch, step: start.step } } : {}) });
  }

  /**
   * Runs `work` in one transaction, begun immediate: it reads before it writes, and a deferred one would fail at
   * once (SQLITE_BUSY) on a store another process is writing, rather than wait its turn. A run folder it claims
   * (through `claimFolder`) is given back if the transaction fails: the run it would be for does not exist.
   */
  private claimingTransaction<T>(work: (claimFolder: (dir: string, owner: FolderOwner) => void) => T): T {
    const undos: (() => void)[] = [];
    try {
      return this.store.db.transaction(() => work((dir, owner) => undos.push(claimRunFolder(dir, owner)))).immediate();
    } catch (e) {
      undos.forEach((undo) => undo());
      throw e;
    }
  }

  /** The run as its folder's run.json names it, written by this process. */
  private folderOwner(runId: number): FolderOwner {
    const createdAt = this.store.db.prepare('SELECT created_at FROM runs WHERE id = ?').pluck().get(runId) as string;
    return { runId, createdAt, store: resolve(this.store.path), ...THIS_PROCESS };
  }

  /**
   * Continues an interrupted, failed or cancelled run from its last checkpoint or its resume point, whichever is
   * later, in place: what it recorded after that point (batches past a resume point, the partial epoch) is dropped,
   * so its series continue as if it had never stopped. Its files go on in the folder it kept them in (--out),
   * unless `outDir` names another.
   */
  resumeRun(runId: number, { force, ...opts }: LaunchOptions & { force?: boolean } = {}): RecordedRun {
    const { db } = this.store;
    const run = getRun(db, runId);
    const checkResumableStatus = (status: string) => {
      if (RESUMABLE_STATUSES.includes(status as (typeof RESUMABLE_STATUSES)[number])) return;
      // Opening the store has already marked interrupted a run whose process is gone, as far as it can tell.
      const live = status === 'running' || status === 'queued';
      if (live && force) return;
      const takeOver = live
        ? `; if no process trains it any more (the lab tells by process id alone on Windows, where a new process may ` +
          `have taken it, and never judges another machine's process), odelab runs resume ${runId} --force takes it over`
        : '';
      throw new LabError('INVALID_ARGUMENT', `run ${runId} is ${status}; only ${RESUMABLE_STATUSES.join(', ')} runs can be resumed${takeOver}`, {
        runId,
        status,
      });
    };
    checkResumableStatus(run.status);
    const config = readStoredConfig(run.config);
    if (!config) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `run ${runId}'s stored config has a setting or value this version of the lab cannot read (a newer lab's?); resume it there`,
        { runId, field: 'config' },
      );
    }
    checkLaunch(config, opts);
    const remembered = opts.outDir === undefined ? (run.outDir ?? undefined) : undefined;
    const outDir = remembered ?? (opts.outDir === undefined ? undefined : resolve(opts.outDir));
    const warnings =
      remembered && !existsSync(remembered) ? [`run ${runId}'s folder ${remembered} is gone; it is made again, holding this session's files only`] : [];
    const owner = this.folderOwner(runId);
    if (outDir) {
      prepareRunFolder(outDir, {
        resuming: { config, owner },
        ...(remembered ? { label: `run ${runId}'s folder`, hint: `to keep this run's files elsewhere: odelab runs resume ${runId} --out <dir>` } : {}),
      });
    }
    const resume = this.claimingTransaction((claimFolder) => {
      // Again where the run is claimed (a write transaction from its start, so two processes cannot both pass):
      // another process may have resumed it since the check above.
      checkResumableStatus(db.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(runId) as string);
      if (force) markTakenOver(db, runId);
      const from = resumeStart(db, runId);
      const { epoch: keepEpoch, step: keepStep } = from;
      deleteBatchesAfter(db, runId, keepStep);
      for (const table of ['epoch_metrics', 'confusion_matrices', 'checkpoints']) {
        db.prepare(`DELETE FROM ${table} WHERE run_id = ? AND epoch > ?`).run(runId, keepEpoch);
      }
      db.prepare('DELETE FROM evaluations WHERE run_id = ? AND step > ?').run(runId, keepStep);
      recordProgress(db, runId, { epochsCompleted: keepEpoch, stepsCompleted: keepStep, wallSeconds: from.wallSeconds });
      claimRun(db, runId, { outDir });
      if (outDir) claimFolder(outDir, owner);
      return { bytes: from.data, wallSecondsBefore: from.wallSeconds, startAt: { epoch: keepEpoch, step: keepStep }, warning: from.warning };
    });
    const request = { config, resumeFrom: resume.bytes, startAt: resume.startAt, continuing: true, ...opts, outDir };
    const launched = this.launch(runId, request, resume.wallSecondsBefore);
    return { ...launched, warnings: [...warnings, ...(resume.warning ? [resume.warning] : []), ...launched.warnings] };
  }

  private launch(runId: number, request: RunRequest, wallSecondsBefore = 0): RecordedRun {
    const handle = this.runner.enqueue({ ...request, resumePointMinutes: request.resumePointMinutes ?? DEFAULT_RESUME_POINT_MINUTES });
    // A store that cannot be written (disk full, say; a lock held for minutes) must not let a run train on
    // unrecorded: stop it, once. The writer has given up by then and writes nothing more.
    const writer = new RunWriter(this.store.db, runId, {
      wallSecondsBefore,
      busyPatienceMs: this.options.busyPatienceMs,
      onBusy: (patienceMs) => handle.events.emit('store-busy', patienceMs),
      onError: (e) => {
        handle.events.emit('store-error', e);
        handle.cancel();
      },
    });
    handle.events.on('event', (e: RunEvent) => writer.write(e));
    handle.events.on('checkpoint-data', (c: CheckpointData) =>
      c.batch === undefined
        ? writer.writeCheckpoint({ epoch: c.epoch, step: c.step, data: c.bytes })
        : writer.writeResumePoint({ epoch: c.epoch, batch: c.batch, step: c.step, data: c.bytes }),
    );
    this.watchCancelRequests(runId, handle);
    const ended = handle.done.then(async (e): Promise<EndedEvent> => {
      await writer.settled();
      if (!writer.failed) return e;
      const error = { code: 'IO_ERROR', message: `the run store could not be written (${(writer.failed.error as Error).message}); the run was stopped` } as const;
      this.markEndedAfterStoreError(runId, error);
      return { ...e, status: 'failed', error };
    });
    // Ended: the folder is no longer in use (for a long-lived process, which stays alive after the run).
    const { outDir } = request;
    if (outDir) void handle.done.finally(() => releaseRunFolder(outDir));
    return { runId, handle, writer, ended, warnings: launchWarnings(request) };
  }

  /**
   * Another process may ask this run to stop (`odelab runs cancel`, another window): the request waits in the
   * store, and the run's owner, this process, acts on it. Emits 'cancel-requested' (the request) on the handle.
   * A read that fails (the store busy or gone) is only a missed look: the next one tries again, and a store that
   * cannot be written stops the run through the writer.
   */
  private watchCancelRequests(runId: number, handle: RunHandle): void {
    let acted: string | null = null;
    const poll = setInterval(() => {
      let request: string | null;
      try {
        request = pendingCancel(this.store.db, runId);
      } catch {
        return;
      }
      if (request === null || request === acted) return;
      acted = request;
      handle.events.emit('cancel-requested', request);
      if (request === 'now') handle.kill();
      else handle.cancel();
    }, CANCEL_POLL_MS).unref();
    void handle.done.finally(() => clearInterval(poll));
  }

  /** Tries, once more, to record why the run stopped: the store may be writable again (a lock released). */
  private markEndedAfterStoreError(runId: number, error: RunErrorInfo): void {
    try {
      markEnded(this.store.db, runId, 'failed', error);
    } catch {
      // The store is unwritable; the run stays 'running' and the next open marks it interrupted.
    }
  }
}
