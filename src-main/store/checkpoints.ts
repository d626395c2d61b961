/** Checkpoints as blobs: the engine's bytes, kept opaque (the store never sees tfjs). */
import { LabError } from '../../src-shared/errors';
import type { CheckpointInfo } from '../../src-shared/run-record';
import type { Db } from './database';

export function saveCheckpoint(db: Db, runId: number, c: { epoch: number; step: number; data: Uint8Array }): void {
  db.prepare(
    `INSERT OR REPLACE INTO checkpoints (run_id, epoch, step, bytes, created_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(runId, c.epoch, c.step, c.data.byteLength, new Date().toISOString(), Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
}

/** A run's checkpoint at `epoch`, or its latest when no epoch is given. */
export function loadCheckpoint(db: Db, runId: number, epoch?: number): CheckpointInfo & { data: Uint8Array } {
  const row = (
    epoch === undefined
      ? db.prepare('SELECT epoch, step, bytes, created_at, data FROM checkpoints WHERE run_id = ? ORDER BY epoch DESC LIMIT 1').get(runId)
      : db.prepare('SELECT epoch, step, bytes, created_at, data FROM checkpoints WHERE run_id = ? AND epoch = ?').get(runId, epoch)
  ) as { epoch: number; step: number; bytes: number; created_at: string; data: Buffer } | undefined;
  if (!row) {
    // Which epochs it does have, so the user can pick one.
    const epochs = db.prepare('SELECT epoch FROM checkpoints WHERE run_id = ? ORDER BY epoch').pluck().all(runId) as number[];
    const has = epoch === undefined || epochs.length === 0 ? '' : `; it has epoch${epochs.length > 1 ? 's' : ''} ${epochs.join(', ')}`;
    throw new LabError('NOT_FOUND', `run ${runId} has no checkpoint${epoch === undefined ? '' : ` for epoch ${epoch}`}${has}`, {
      runId,
      epoch,
      epochs,
    });
  }
  return { epoch: row.epoch, step: row.step, bytes: row.bytes, createdAt: row.created_at, data: new Uint8Array(row.data) };
}

/** The run that stored exactly these checkpoint bytes (the oldest, if several), if any: where a checkpoint file came from. */
export function runWithCheckpoint(db: Db, data: Uint8Array): number | undefined {
  const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const runId = db.prepare('SELECT min(run_id) FROM checkpoints WHERE bytes = ? AND data = ?').pluck().get(data.byteLength, blob) as number | null;
  return runId ?? undefined;
}

export function latestCheckpointEpoch(db: Db, runId: number): number | null {
  const row = db.prepare('SELECT max(epoch) AS epoch FROM checkpoints WHERE run_id = ?').get(runId) as { epoch: number | null };
  return row.epoch;
}
