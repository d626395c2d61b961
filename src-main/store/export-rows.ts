/**
 * The store's rows as an export reads them and an import writes them back: the runs an export names (NOT_FOUND
 * for any the store lacks) and their metric tables, row by row in table order or as the document's columns.
 */
import { LabError } from '../../src-shared/errors';
import type { Db } from './database';
import { column, decodeFloat, encodeFloat, type Columns, type MetricTable } from './export-format';

export type Row = Record<string, unknown>;

export function uniqueIds(ids: number[]): number[] {
  return [...new Set(ids)];
}

/** The runs rows of `ids`, in that order; NOT_FOUND naming every id the store lacks. */
export function runRows(db: Db, ids: number[]): Row[] {
  const get = db.prepare('SELECT * FROM runs WHERE id = ?');
  const rows = ids.map((id) => get.get(id) as Row | undefined);
  const missing = ids.filter((_, i) => rows[i] === undefined);
  if (missing.length > 0) {
    throw new LabError('NOT_FOUND', `no run with id ${missing.join(', ')} in this database`, { runIds: missing });
  }
  return rows as Row[];
}

export function readRows(db: Db, t: MetricTable, runId: number): (number | null)[][] {
  const cols = t.keys.map(column).join(', ');
  return db
    .prepare(`SELECT ${cols} FROM ${t.table} WHERE run_id = ? ORDER BY ${column(t.keys[0])}`)
    .raw()
    .all(runId) as (number | null)[][];
}

export function readColumns(db: Db, t: MetricTable, runId: number): Columns {
  const rows = readRows(db, t, runId);
  return Object.fromEntries(t.keys.map((key, i) => [key, rows.map((r) => encodeFloat(r[i]))]));
}

export function insertColumns(db: Db, t: MetricTable, runId: number, cols: Columns): void {
  const names = t.keys.map(column);
  const insert = db.prepare(`INSERT INTO ${t.table} (run_id, ${names.join(', ')}) VALUES (?${', ?'.repeat(names.length)})`);
  const count = cols[t.keys[0]].length;
  for (let i = 0; i < count; i++) insert.run(runId, ...t.keys.map((key) => decodeFloat(cols[key][i])));
}
