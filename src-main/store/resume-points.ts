/**
 * A run's resume point: the engine's bytes of a checkpoint taken inside an epoch, one per run (replaced by each new
 * one), obsolete and deleted once an epoch-end checkpoint at its step or later is saved (checkpoints.ts). Kept
 * opaque like checkpoints, and checked the same way (checkCheckpoint) wherever they are read or imported.
 */
import { checkCheckpoint } from '../engine/train/checkpoint';
import { isLabError, LabError } from '../../src-shared/errors';
import type { ResumePointAt, ResumePointInfo } from '../../src-shared/run-record';
import type { Db } from './database';
import { storedBytesProblem } from './checkpoints';

/** Where a resume point stands: the epoch in progress (1-based), its batches done, the run's step. */
interface Row extends ResumePointAt {
  wall_seconds: number;
  bytes: number;
  created_at: string;
  data: Buffer;
}

/** Replaces the run's resume point. `wallSeconds`: the run's wall clock there, which a resumed run continues. */
/** `createdAt`: when it was saved, if not now (an imported run's point keeps its own). */
export function saveResumePoint(db: Db, runId: number, p: ResumePointAt & { wallSeconds: number; data: Uint8Array; createdAt?: string }): void {
  db.prepare(
    `INSERT OR REPLACE INTO resume_points (run_id, epoch, batch, step, wall_seconds, bytes, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    runId,
    p.epoch,
    p.batch,
    p.step,
    p.wallSeconds,
    p.data.byteLength,
    p.createdAt ?? new Date().toISOString(),
    Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength),
  );
}

/** Deletes the run's resume point if it stands at `step` or before: an epoch-end checkpoint there supersedes it. */
export function deleteResumePointUpTo(db: Db, runId: number, step: number): void {
  db.prepare('DELETE FROM resume_points WHERE run_id = ? AND step <= ?').run(runId, step);
}

/** The run's resume point without its bytes (runs show), or null. */
export function resumePointInfo(db: Db, runId: number): ResumePointInfo | null {
  const row = db
    .prepare('SELECT epoch, batch, step, wall_seconds AS wallSeconds, bytes, created_at AS createdAt FROM resume_points WHERE run_id = ?')
    .get(runId) as ResumePointInfo | undefined;
  return row ?? null;
}

/** Where the resume points of these runs stand, one query for a listing (runs without one are absent). */
export function resumePointsAt(db: Db, ids: readonly number[]): Map<number, ResumePointAt> {
  const rows = db
    .prepare('SELECT run_id AS runId, epoch, batch, step FROM resume_points WHERE run_id IN (SELECT value FROM json_each(?))')
    .all(JSON.stringify(ids)) as (ResumePointAt & { runId: number })[];
  return new Map(rows.map(({ runId, epoch, batch, step }) => [runId, { epoch, batch, step }]));
}

/** The run's resume point with its bytes as stored, unchecked (an export carries them as they are), or undefined. */
export function storedResumePoint(db: Db, runId: number): (ResumePointInfo & { data: Buffer }) | undefined {
  const row = db.prepare('SELECT epoch, batch, step, wall_seconds, bytes, created_at, data FROM resume_points WHERE run_id = ?').get(runId) as Row | undefined;
  if (!row) return undefined;
  const { epoch, batch, step, bytes, data } = row;
  return { epoch, batch, step, wallSeconds: row.wall_seconds, bytes, createdAt: row.created_at, data };
}

/** The run's resume point with its bytes, or undefined; STORE_UNREADABLE when they are damaged (resumePointProblem). */
export function loadResumePoint(db: Db, runId: number): (ResumePointInfo & { data: Uint8Array }) | undefined {
  const point = storedResumePoint(db, runId);
  if (!point) return undefined;
  const problem = resumePointProblem(point.data, point);
  if (problem) {
    throw new LabError(
      'STORE_UNREADABLE',
      `the resume point of run ${runId} (epoch ${point.epoch}, batch ${point.batch}) in ${db.name} is damaged: ${problem}; odelab db check lists every damaged checkpoint`,
      { runId, epoch: point.epoch, batch: point.batch, path: db.name },
    );
  }
  return { ...point, data: new Uint8Array(point.data) };
}

/**
 * What is wrong with a resume point's bytes and the row that holds them, or undefined: a length other than the
 * row's, bytes the engine cannot read, an epoch-end checkpoint, or one of another place than the row says.
 */
export function resumePointProblem(data: Uint8Array, row: ResumePointAt & { bytes: number }): string | undefined {
  const stored = storedBytesProblem(data, row.bytes);
  if (stored) return stored;
  let found: ReturnType<typeof checkCheckpoint>;
  try {
    found = checkCheckpoint(data, 'the data');
  } catch (e) {
    if (isLabError(e)) return e.reason;
    throw e;
  }
  if (found.batch === undefined) return `the data is the checkpoint of the end of epoch ${found.epoch}, not a resume point inside one`;
  if (found.epoch + 1 !== row.epoch || found.batch !== row.batch || found.step !== row.step) {
    return (
      `the data is the resume point of epoch ${found.epoch + 1}, batch ${found.batch}, step ${found.step}, ` +
      `where its row says epoch ${row.epoch}, batch ${row.batch}, step ${row.step}`
    );
  }
  return undefined;
}

/** Every stored resume point checked (resumePointProblem): `problems` name the run. */
export function checkStoredResumePoints(db: Db): { checked: number; problems: string[] } {
  const rows = db.prepare('SELECT run_id AS runId, epoch, batch, step, bytes, data FROM resume_points ORDER BY run_id').iterate() as IterableIterator<
    ResumePointAt & { runId: number; bytes: number; data: Buffer }
  >;
  let checked = 0;
  const problems: string[] = [];
  for (const row of rows) {
    checked++;
    const problem = resumePointProblem(row.data, row);
    if (problem) problems.push(`resume point of run ${row.runId} (epoch ${row.epoch}, batch ${row.batch}): ${problem}`);
  }
  return { checked, problems };
}
