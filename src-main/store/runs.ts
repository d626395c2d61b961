/**
 * The runs table: a run's lifecycle (queued → running → ended, or interrupted when its writer died), its
 * config and outcome, and the run lists the CLI and dashboards show.
 */
import { createHash } from 'node:crypto';
import { LabError } from '../../src-shared/errors';
import { isPlainObject } from '../../src-shared/config';
import { readStoredConfig, runName, type RunConfig } from '../../src-shared/run-config';
import type { RunErrorInfo } from '../../src-shared/run-events';
import {
  STORED_RUN_STATUSES,
  type CheckpointInfo,
  type CancelRequest,
  type RunDetail,
  type RunSummary,
  type StartedFrom,
  type StoredRunStatus,
} from '../../src-shared/run-record';
import type { Db } from './database';
import { resumePointInfo } from './resume-points';
import { processAlive, provablyAlive, THIS_PROCESS, type Owner, type OwnerRecord } from './process-identity';

export interface NewRun {
  config: RunConfig;
  name?: string;
  tags?: string[];
  notes?: string;
  parentId?: number;
  /** The folder the run also writes its files to (--out), absolute. */
  outDir?: string;
  /** The checkpoint file it starts from (train --resume). */
  startedFrom?: StartedFrom;
}

/** Keys sorted at every level, so equal configs hash equally whatever order their keys were written in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 of the config without its name: runs that trained the same thing share a hash. */
export function configHash(config: RunConfig): string {
  const { name: _name, ...rest } = config;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

const now = () => new Date().toISOString();

/** Inserts a queued run; its uid comes from the runs table's trigger (migration 5), as an import's without one does. */
export function createRun(db: Db, run: NewRun, owner: Owner = THIS_PROCESS): number {
  const { config } = run;
  const info = db
    .prepare(
      `INSERT INTO runs (name, created_at, status, config_json, config_hash, model, dataset, method, seed, tags_json,
         notes, parent_id, owner_pid, owner_host, owner_started, out_dir, started_from_json)
       VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      run.name ?? runName(config),
      now(),
      JSON.stringify(config),
      configHash(config),
      config.model.name,
      config.dataset.kind,
      config.model.solver.method,
      config.seed,
      JSON.stringify(run.tags ?? []),
      run.notes ?? '',
      run.parentId ?? null,
      owner.pid,
      owner.host,
      owner.started ?? null,
      run.outDir ?? null,
      run.startedFrom ? JSON.stringify(run.startedFrom) : null,
    );
  return Number(info.lastInsertRowid);
}

export interface StartedFacts {
  backend: string;
  parameterCount: number;
  trainSize: number;
  testSize: number;
  batchesPerEpoch: number;
  datasetId: number | null;
}

export function markRunning(db: Db, id: number, facts: StartedFacts): void {
  db.prepare(
    `UPDATE runs SET status = 'running', started_at = coalesce(started_at, ?), backend = ?, parameter_count = ?,
       train_size = ?, test_size = ?, batches_per_epoch = ?, dataset_id = ? WHERE id = ?`,
  ).run(now(), facts.backend, facts.parameterCount, facts.trainSize, facts.testSize, facts.batchesPerEpoch, facts.datasetId, id);
}

/** Progress kept on the run row, so run lists need no metric scans. */
export function recordProgress(db: Db, id: number, p: { epochsCompleted?: number; stepsCompleted: number; wallSeconds: number }): void {
  db.prepare(
    `UPDATE runs SET epochs_completed = coalesce(?, epochs_completed), steps_completed = ?, wall_seconds = ? WHERE id = ?`,
  ).run(p.epochsCompleted ?? null, p.stepsCompleted, p.wallSeconds, id);
}

/** A run's owner columns, as processAlive reads them. */
const OWNER_COLUMNS = 'owner_pid AS pid, owner_host AS host, owner_started AS started';

export function markEnded(db: Db, id: number, status: StoredRunStatus, error?: RunErrorInfo): void {
  db.prepare(
    `UPDATE runs SET status = ?, ended_at = ?, error_code = ?, error_message = ?, error_details_json = ?,
       owner_pid = NULL, owner_host = NULL, owner_started = NULL, cancel_requested = NULL WHERE id = ?`,
  ).run(status, now(), error?.code ?? null, error?.message ?? null, error?.details ? JSON.stringify(error.details) : null, id);
}

/**
 * Runs left 'queued' or 'running' by a process that no longer exists (killed, crashed, power cut) become
 * 'interrupted', keeping every committed epoch and checkpoint; they can be resumed. Returns their ids.
 */
export function recoverInterrupted(db: Db): number[] {
  const findOrphans = () =>
    (
      db.prepare(`SELECT id, ${OWNER_COLUMNS}, epochs_completed FROM runs WHERE status IN ('queued', 'running')`).all() as (OwnerRecord & {
        id: number;
        epochs_completed: number;
      })[]
    ).filter((r) => !processAlive(r));
  // Most opens find none: no write lock for them (a training process writes beside every `odelab runs …`).
  if (findOrphans().length === 0) return [];
  return db.transaction(() => {
    const orphans = findOrphans();
    for (const r of orphans) {
      markInterrupted(db, r.id, `the process writing this run (pid ${r.pid}) ended before the run did; ${r.epochs_completed} epoch(s) completed`);
    }
    return orphans.map((r) => r.id);
  }).immediate();
}

/**
 * A run left 'queued' or 'running' whose recorded process, the user says, no longer trains it (runs resume --force):
 * marked interrupted as recoverInterrupted marks one whose process is gone, for the cases this lab cannot tell —
 * on Windows a process is judged by its pid alone, which a new process may since have taken, and another machine's
 * process (a store on a shared drive) is never judged. Returns whether it was such a run.
 */
export function markTakenOver(db: Db, id: number): boolean {
  const r = db.prepare(`SELECT ${OWNER_COLUMNS}, epochs_completed FROM runs WHERE id = ? AND status IN ('queued', 'running')`).get(id) as
    | (OwnerRecord & { epochs_completed: number })
    | undefined;
  if (!r) return false;
  if (provablyAlive(r)) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `run ${id} is being trained by process ${r.pid}, which is alive (its start time is the one recorded): --force takes over only a ` +
        `run whose process cannot be judged; odelab runs cancel ${id} stops it`,
      { runId: id, field: 'force', pid: r.pid },
    );
  }
  markInterrupted(
    db,
    id,
    `taken over by odelab runs resume --force: the process recorded as writing this run (pid ${r.pid} on ${r.host}) ` +
      `no longer did, its user said; ${r.epochs_completed} epoch(s) completed`,
  );
  return true;
}

/** Marks a run whose process is gone 'interrupted' (resumable), saying why, and frees its owner and cancel request. */
function markInterrupted(db: Db, id: number, message: string): void {
  db.prepare(
    `UPDATE runs SET status = 'interrupted', ended_at = ?, error_code = 'INTERRUPTED', error_message = ?, owner_pid = NULL,
       owner_host = NULL, owner_started = NULL, cancel_requested = NULL WHERE id = ?`,
  ).run(now(), message, id);
}

/** The run columns a detail view adds to the summary. */
interface RunDetailRow {
  summary: string;
  uid: string;
  config_json: string;
  config_hash: string;
  parameter_count: number | null;
  train_size: number | null;
  test_size: number | null;
  batches_per_epoch: number | null;
  dataset_id: number | null;
  out_dir: string | null;
  cancel_requested: CancelRequest | null;
  started_from_json: string | null;
}

/**
 * A run's summary as one JSON array built by SQLite, in SUMMARY_FIELDS order: listing 10 000 runs then costs one
 * JSON.parse of short arrays rather than 10 000 row objects of 20 columns (better-sqlite3 spends ~0.5 µs per
 * value, and keys repeated in every object double what JSON.parse reads).
 */
const SUMMARY_FIELDS = [
  ['id', 'r.id'],
  ['name', 'r.name'],
  ['status', 'r.status'],
  ['createdAt', 'r.created_at'],
  ['startedAt', 'r.started_at'],
  ['endedAt', 'r.ended_at'],
  ['model', 'r.model'],
  ['dataset', 'r.dataset'],
  ['method', 'r.method'],
  ['seed', 'r.seed'],
  ['backend', 'r.backend'],
  ['tags', 'json(r.tags_json)'],
  ['notes', 'r.notes'],
  ['parentId', 'r.parent_id'],
  ['epochsCompleted', 'r.epochs_completed'],
  ['stepsCompleted', 'r.steps_completed'],
  ['wallSeconds', 'r.wall_seconds'],
  [
    'error',
    `CASE WHEN r.error_code IS NULL THEN NULL ELSE json_object('code', r.error_code,
      'message', coalesce(r.error_message, ''), 'details', json(r.error_details_json)) END`,
  ],
  ['final', 'json(r.final_json)'],
  ['best', 'json(r.best_json)'],
] as const satisfies readonly (readonly [keyof RunSummary, string])[];

const SUMMARY_JSON_SQL = `json_array(${SUMMARY_FIELDS.map(([, sql]) => sql).join(', ')})`;

/** One summary from its array; written out (not looped over SUMMARY_FIELDS) so every object has one shape. */
function summaryOf(v: unknown[]): RunSummary {
  return {
    id: v[0],
    name: v[1],
    status: v[2],
    createdAt: v[3],
    startedAt: v[4],
    endedAt: v[5],
    model: v[6],
    dataset: v[7],
    method: v[8],
    seed: v[9],
    backend: v[10],
    tags: v[11],
    notes: v[12],
    parentId: v[13],
    epochsCompleted: v[14],
    stepsCompleted: v[15],
    wallSeconds: v[16],
    error: v[17],
    final: v[18],
    best: v[19],
  } as RunSummary;
}

// summaryOf must read each key from its SUMMARY_FIELDS position: fed the keys themselves, it must echo them.
for (const [key, value] of Object.entries(summaryOf(SUMMARY_FIELDS.map(([k]) => k)))) {
  if (key !== value) throw new Error(`runs.ts: summaryOf reads '${key}' from the position of '${String(value)}'`);
}

function parseSummaries(json: string[]): RunSummary[] {
  return (JSON.parse(`[${json.join(',')}]`) as unknown[][]).map((values) => {
    const run = summaryOf(values);
    // An error without details carries none (as the 'ended' event does).
    if (run.error && run.error.details === null) delete run.error.details;
    return run;
  });
}

export interface RunFilter {
  status?: StoredRunStatus[];
  tag?: string;
  model?: string;
  dataset?: string;
  method?: string;
  /** Only the runs of this study (its id). */
  studyId?: number;
  /** Newest first; at most this many. */
  limit?: number;
}

/** Runs newest first with their final and best epoch metrics. */
export function listRuns(db: Db, filter: RunFilter = {}): RunSummary[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.status?.length) {
    for (const s of filter.status) {
      if (!STORED_RUN_STATUSES.includes(s)) {
        throw new LabError('INVALID_ARGUMENT', `status: expected one of ${STORED_RUN_STATUSES.join(', ')}, got '${s}'`, { field: 'status' });
      }
    }
    where.push(`r.status IN (${filter.status.map(() => '?').join(',')})`);
    args.push(...filter.status);
  }
  if (filter.tag) {
    where.push(`EXISTS (SELECT 1 FROM json_each(r.tags_json) WHERE value = ?)`);
    args.push(filter.tag);
  }
  if (filter.studyId !== undefined) {
    where.push('EXISTS (SELECT 1 FROM study_runs sr WHERE sr.study_id = ? AND sr.run_id = r.id)');
    args.push(filter.studyId);
  }
  for (const key of ['model', 'dataset', 'method'] as const) {
    if (filter[key]) {
      where.push(`r.${key} = ?`);
      args.push(filter[key]);
    }
  }
  if (filter.limit !== undefined) args.push(Math.max(1, Math.floor(filter.limit)));
  const sql = `SELECT ${SUMMARY_JSON_SQL} FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id DESC
    ${filter.limit !== undefined ? 'LIMIT ?' : ''}`;
  return parseSummaries(db.prepare(sql).pluck().all(...args) as string[]);
}

/**
 * What tells the runs of a sweep apart beyond their summaries (listRuns reads no configs): each run's name and
 * model, its ODE solver and dataset as its stored config has them (a setting left to its default, or added since
 * the run was stored, is absent), its trainSize, and the training images it trains on once it has started. For
 * `runs list` and `runs series`; ids with no run are left out.
 */
export interface RunSetup {
  name: string;
  model: string;
  solver: Record<string, unknown>;
  dataset: Record<string, unknown>;
  /** config.trainSize: the stratified subset asked for; null when it trains on all its training images. */
  trainSize: number | null;
  /** runs.train_size: the training images it trains on; null until it has started. */
  trainImages: number | null;
  /** config.testSize: the stratified test subset each epoch scores; null when it scores the whole test split. */
  testSize: number | null;
  /** config.model.blocks: resnet's residual blocks, rknet's RK4 steps (null if absent). */
  blocks: number | null;
}

export function runSetups(db: Db, ids: readonly number[]): Map<number, RunSetup> {
  // Only the parts of config_json that are needed: parsing 10 000 whole configs would cost more than the listing.
  const rows = db
    .prepare(
      `SELECT r.id, r.name, r.model, r.config_json -> '$.model.solver', r.config_json -> '$.dataset',
         r.config_json ->> '$.trainSize', r.train_size, r.config_json ->> '$.testSize', r.config_json ->> '$.model.blocks'
       FROM runs r WHERE r.id IN (SELECT value FROM json_each(?))`,
    )
    .raw()
    .all(JSON.stringify(ids)) as [number, string, string, string | null, string | null, unknown, number | null, unknown, unknown][];
  const object = (json: string | null): Record<string, unknown> => {
    const value: unknown = json === null ? null : JSON.parse(json);
    return isPlainObject(value) ? value : {};
  };
  return new Map(
    rows.map(([id, name, model, solver, dataset, trainSize, trainImages, testSize, blocks]) => [
      id,
      {
        name,
        model,
        solver: object(solver),
        dataset: object(dataset),
        trainSize: typeof trainSize === 'number' ? trainSize : null,
        trainImages,
        testSize: typeof testSize === 'number' ? testSize : null,
        blocks: typeof blocks === 'number' ? blocks : null,
      },
    ]),
  );
}

function runNotFound(id: number): LabError {
  return new LabError('NOT_FOUND', `run ${id} does not exist in this database`, { runId: id });
}

export function getRun(db: Db, id: number): RunDetail {
  const r = db
    .prepare(`SELECT ${SUMMARY_JSON_SQL} AS summary, uid, config_json, config_hash, parameter_count, train_size, test_size,
      batches_per_epoch, dataset_id, out_dir, cancel_requested, started_from_json FROM runs r WHERE r.id = ?`)
    .get(id) as RunDetailRow | undefined;
  if (!r) throw runNotFound(id);
  const checkpoints = db
    .prepare('SELECT epoch, step, bytes, created_at AS createdAt FROM checkpoints WHERE run_id = ? ORDER BY epoch')
    .all(id) as CheckpointInfo[];
  const stored = JSON.parse(r.config_json) as RunConfig;
  return {
    ...parseSummaries([r.summary])[0],
    uid: r.uid,
    // Settings added since the run was stored read as their defaults; one this version cannot read, as stored.
    // The hash stays the one computed when the run was stored.
    config: readStoredConfig(stored) ?? stored,
    configHash: r.config_hash,
    parameterCount: r.parameter_count,
    trainSize: r.train_size,
    testSize: r.test_size,
    batchesPerEpoch: r.batches_per_epoch,
    datasetId: r.dataset_id,
    outDir: r.out_dir,
    startedFrom: r.started_from_json === null ? null : (JSON.parse(r.started_from_json) as StartedFrom),
    cancelRequested: r.cancel_requested,
    checkpoints,
    resumePoint: resumePointInfo(db, id),
  };
}

export function deleteRun(db: Db, id: number): void {
  const run = db.prepare(`SELECT status, ${OWNER_COLUMNS} FROM runs WHERE id = ?`).get(id) as (OwnerRecord & { status: StoredRunStatus }) | undefined;
  if (!run) throw runNotFound(id);
  if (isLive(run.status) && processAlive(run)) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `run ${id} is ${run.status} (process ${run.pid}); cancel it before deleting it (odelab runs cancel ${id})`,
      { runId: id },
    );
  }
  db.prepare('DELETE FROM runs WHERE id = ?').run(id);
}

export function setTags(db: Db, id: number, tags: string[]): void {
  const { changes } = db.prepare('UPDATE runs SET tags_json = ? WHERE id = ?').run(JSON.stringify([...new Set(tags)]), id);
  if (changes === 0) throw runNotFound(id);
}

export function setNotes(db: Db, id: number, notes: string): void {
  const { changes } = db.prepare('UPDATE runs SET notes = ? WHERE id = ?').run(notes, id);
  if (changes === 0) throw runNotFound(id);
}

/** Hands a run to this process (resume): it is ours to write and to mark ended; its files go to `outDir`. */
export function claimRun(db: Db, id: number, opts: { owner?: Owner; outDir?: string | null } = {}): void {
  const owner = opts.owner ?? THIS_PROCESS;
  db.prepare(
    `UPDATE runs SET status = 'queued', ended_at = NULL, error_code = NULL, error_message = NULL, error_details_json = NULL,
       owner_pid = ?, owner_host = ?, owner_started = ?, cancel_requested = NULL, out_dir = ? WHERE id = ?`,
  ).run(owner.pid, owner.host, owner.started ?? null, opts.outDir ?? null, id);
}

export const isLive = (status: StoredRunStatus) => status === 'queued' || status === 'running';

/**
 * Asks the process that owns a queued or running run to stop it: any process that opens the store may ask (the
 * owner polls, see pendingCancel). 'now' overrides an earlier 'after-batch', never the reverse. A run that has
 * stopped already is left alone, and one whose owner has died is marked interrupted first (nobody would act on
 * the request): `requested` says whether there was a run to stop, `status` where it stands.
 */
export function requestCancel(db: Db, id: number, mode: CancelRequest): { requested: boolean; status: StoredRunStatus } {
  return db.transaction(() => {
    recoverInterrupted(db);
    const run = db.prepare('SELECT status, cancel_requested FROM runs WHERE id = ?').get(id) as
      | { status: StoredRunStatus; cancel_requested: CancelRequest | null }
      | undefined;
    if (!run) throw runNotFound(id);
    if (!isLive(run.status)) return { requested: false, status: run.status };
    if (run.cancel_requested !== 'now') db.prepare('UPDATE runs SET cancel_requested = ? WHERE id = ?').run(mode, id);
    return { requested: true, status: run.status };
  }).immediate(); // it reads, then writes: deferred, it would fail at once beside a writing training process
}

/** The cancel request waiting for this run's owner, if any. */
export function pendingCancel(db: Db, id: number): CancelRequest | null {
  return (db.prepare('SELECT cancel_requested FROM runs WHERE id = ?').pluck().get(id) as CancelRequest | null | undefined) ?? null;
}
