/**
 * The prepared statements over batch_metrics and metric_buckets that metrics.ts (writes) and metric-series.ts
 * (reads) run, prepared once per connection and cached with it (a WeakMap on the Db).
 */
import type Database from 'better-sqlite3';
import type { Db } from './database';
import { AGG_COLUMNS, AGG_LENGTH, BUCKET_COLUMNS } from './metric-buckets';

export interface Statements {
  insertRow: Database.Statement;
  /** INSERT_GROUP rows at once: fewer calls into SQLite. */
  insertRows: Database.Statement;
  readRaw: Database.Statement;
  /** [bucket, …aggregate] of a level's buckets in a range. */
  readBuckets: Database.Statement;
  writeBucket: Database.Statement;
  deleteBucketRange: Database.Statement;
  deleteBucketsFrom: Database.Statement;
  deleteRunBuckets: Database.Statement;
  deleteRowsAfter: Database.Statement;
  deleteStepSizesAfter: Database.Statement;
  firstStep: Database.Statement;
  lastStep: Database.Statement;
  runInfo: Database.Statement;
  /** Statements whose SQL names a metric column, by SQL. */
  byColumn: Map<string, Database.Statement>;
}

const cache = new WeakMap<Db, Statements>();
export const INSERT_GROUP = 16;

/** This connection's statements, prepared on its first call. */
export function statements(db: Db): Statements {
  let st = cache.get(db);
  if (st) return st;
  const raw = (sql: string) => db.prepare(sql).raw(true);
  st = {
    insertRow: db.prepare(
      `INSERT INTO batch_metrics (run_id, step, epoch, batch, loss, accuracy, nfe_forward, nfe_backward, seconds, wall_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertRows: db.prepare(
      `INSERT INTO batch_metrics (run_id, step, epoch, batch, loss, accuracy, nfe_forward, nfe_backward, seconds, wall_seconds)
       VALUES ${Array(INSERT_GROUP).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    readRaw: raw(`SELECT step, ${BUCKET_COLUMNS.join(', ')} FROM batch_metrics WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step`),
    readBuckets: raw(`SELECT bucket, ${AGG_COLUMNS} FROM metric_buckets WHERE run_id = ? AND level = ? AND bucket BETWEEN ? AND ?`),
    writeBucket: db.prepare(
      `INSERT OR REPLACE INTO metric_buckets (run_id, level, bucket, ${AGG_COLUMNS}) VALUES (${Array(3 + AGG_LENGTH).fill('?').join(', ')})`,
    ),
    deleteBucketRange: db.prepare('DELETE FROM metric_buckets WHERE run_id = ? AND level = ? AND bucket BETWEEN ? AND ?'),
    deleteBucketsFrom: db.prepare('DELETE FROM metric_buckets WHERE run_id = ? AND level = ? AND bucket >= ?'),
    deleteRunBuckets: db.prepare('DELETE FROM metric_buckets WHERE run_id = ?'),
    deleteRowsAfter: db.prepare('DELETE FROM batch_metrics WHERE run_id = ? AND step > ?'),
    deleteStepSizesAfter: db.prepare('DELETE FROM step_sizes WHERE run_id = ? AND step > ?'),
    firstStep: db.prepare('SELECT step FROM batch_metrics WHERE run_id = ? ORDER BY step LIMIT 1').pluck(),
    lastStep: db.prepare('SELECT step FROM batch_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1').pluck(),
    runInfo: raw('SELECT id, batches_per_epoch FROM runs WHERE id IN (SELECT value FROM json_each(?))'),
    byColumn: new Map(),
  };
  cache.set(db, st);
  return st;
}

/** The raw statement of `sql` (one whose SQL names a metric column), prepared on its first use on this connection. */
export function columnStatement(db: Db, st: Statements, sql: string): Database.Statement {
  let s = st.byColumn.get(sql);
  if (!s) {
    s = db.prepare(sql).raw(true);
    st.byColumn.set(sql, s);
  }
  return s;
}
