/**
 * Checkpoints as blobs: the engine's bytes, kept opaque (the store never sees tfjs), but checked where they enter
 * from outside (import) and in `db check` with the engine's tfjs-free checkCheckpoint.
 */
import { checkCheckpoint } from '../engine/train/checkpoint';
import { isLabError, LabError } from '../../src-shared/errors';
import type { CheckpointInfo } from '../../src-shared/run-record';
import type { Db } from './database';
import { deleteResumePointUpTo } from './resume-points';

/** Saves a run's epoch-end checkpoint; a resume point it reaches or passes is obsolete and deleted with it. */
export function saveCheckpoint(db: Db, runId: number, c: { epoch: number; step: number; data: Uint8Array }): void {
  db.transaction(() => {
    insertCheckpoint(db, runId, c);
    deleteResumePointUpTo(db, runId, c.step);
  })();
}

function insertCheckpoint(db: Db, runId: number, c: { epoch: number; step: number; data: Uint8Array }): void {
  db.prepare(
    `INSERT OR REPLACE INTO checkpoints (run_id, epoch, step, bytes, created_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(runId, c.epoch, c.step, c.data.byteLength, new Date().toISOString(), Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
}

/**
 * A run's checkpoint at `epoch`, or its latest when no epoch is given; NOT_FOUND saying which is missing, the run or
 * the checkpoint; STORE_UNREADABLE when its bytes are damaged (checkpointProblem).
 */
export function loadCheckpoint(db: Db, runId: number, epoch?: number): CheckpointInfo & { data: Uint8Array } {
  const row = (
    epoch === undefined
      ? db.prepare('SELECT epoch, step, bytes, created_at, data FROM checkpoints WHERE run_id = ? ORDER BY epoch DESC LIMIT 1').get(runId)
      : db.prepare('SELECT epoch, step, bytes, created_at, data FROM checkpoints WHERE run_id = ? AND epoch = ?').get(runId, epoch)
  ) as { epoch: number; step: number; bytes: number; created_at: string; data: Buffer } | undefined;
  if (!row) {
    if (!db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) {
      throw new LabError('NOT_FOUND', `run ${runId} does not exist in this database`, { runId });
    }
    // Which epochs it does have, so the user can pick one.
    const epochs = db.prepare('SELECT epoch FROM checkpoints WHERE run_id = ? ORDER BY epoch').pluck().all(runId) as number[];
    const has = epoch === undefined || epochs.length === 0 ? '' : `; it has epoch${epochs.length > 1 ? 's' : ''} ${epochs.join(', ')}`;
    throw new LabError('NOT_FOUND', `run ${runId} has no checkpoint${epoch === undefined ? '' : ` for epoch ${epoch}`}${has}`, {
      runId,
      epoch,
      epochs,
    });
  }
  // Damage in the store is the store's failure (exit 1), not a bad argument, and is caught before a resume claims the run.
  const problem = checkpointProblem(row.data, row);
  if (problem) {
    throw new LabError(
      'STORE_UNREADABLE',
      `the checkpoint of run ${runId} at epoch ${row.epoch} in ${db.name} is damaged: ${problem}; odelab db check lists every damaged checkpoint`,
      { runId, epoch: row.epoch, path: db.name },
    );
  }
  return { epoch: row.epoch, step: row.step, bytes: row.bytes, createdAt: row.created_at, data: new Uint8Array(row.data) };
}

/** The run that stored exactly these checkpoint (or resume point) bytes (the oldest, if several), if any: where a checkpoint file came from. */
export function runWithCheckpoint(db: Db, data: Uint8Array): number | undefined {
  const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const runId = db
    .prepare('SELECT min(run_id) FROM (SELECT run_id FROM checkpoints WHERE bytes = ? AND data = ? UNION ALL SELECT run_id FROM resume_points WHERE bytes = ? AND data = ?)')
    .pluck()
    .get(data.byteLength, blob, data.byteLength, blob) as number | null;
  return runId ?? undefined;
}

export function latestCheckpointEpoch(db: Db, runId: number): number | null {
  const row = db.prepare('SELECT max(epoch) AS epoch FROM checkpoints WHERE run_id = ?').get(runId) as { epoch: number | null };
  return row.epoch;
}

/**
 * What is wrong with a stored blob's bytes as such: a value SQLite holds as text or a number (a hand edit, another
 * tool: better-sqlite3 then gives a string, not bytes), or a length other than the row's byte count.
 */
export function storedBytesProblem(data: unknown, bytes: number): string | undefined {
  if (!(data instanceof Uint8Array)) return `is stored as ${typeof data === 'string' ? 'text' : typeof data}, not bytes (damaged)`;
  if (data.byteLength !== bytes) return `holds ${data.byteLength} bytes, where its byte count says ${bytes} (cut short or damaged)`;
  return undefined;
}

/**
 * What is wrong with a checkpoint blob and the row that holds it, or undefined when nothing is: a length other
 * than the row's byte count, bytes the engine cannot read (format, length, or a checksum that does not match),
 * or the checkpoint of another epoch or step than the row's.
 */
export function checkpointProblem(data: Uint8Array, row: { epoch: number; step: number; bytes: number }): string | undefined {
  const stored = storedBytesProblem(data, row.bytes);
  if (stored) return stored;
  let found: { epoch: number; step: number };
  try {
    found = checkCheckpoint(data, 'the data');
  } catch (e) {
    if (isLabError(e)) return e.reason;
    throw e;
  }
  if (found.epoch !== row.epoch || found.step !== row.step) {
    return `the data is the checkpoint of epoch ${found.epoch}, step ${found.step}, where its row says epoch ${row.epoch}, step ${row.step}`;
  }
  return undefined;
}

/**
 * Every stored checkpoint checked (checkpointProblem), one row at a time: `problems` name the run and epoch. Costs
 * a read and a SHA-256 of every checkpoint, about what SQLite's integrity check spends reading the file.
 */
export function checkStoredCheckpoints(db: Db): { checked: number; problems: string[] } {
  const rows = db.prepare('SELECT run_id AS runId, epoch, step, bytes, data FROM checkpoints ORDER BY run_id, epoch').iterate() as IterableIterator<{
    runId: number;
    epoch: number;
    step: number;
    bytes: number;
    data: Buffer;
  }>;
  let checked = 0;
  const problems: string[] = [];
  for (const row of rows) {
    checked++;
    const problem = checkpointProblem(row.data, row);
    if (problem) problems.push(`checkpoint of run ${row.runId} at epoch ${row.epoch}: ${problem}`);
  }
  return { checked, problems };
}
