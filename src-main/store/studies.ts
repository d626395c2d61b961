/** Studies: a named group of runs with the grid that made them, for the comparison views. */
import { LabError } from '../../src-shared/errors';
import type { Db } from './database';

export interface StudyRecord {
  id: number;
  name: string;
  createdAt: string;
  grid: Record<string, unknown>;
  notes: string;
  runIds: number[];
}

export function createStudy(db: Db, s: { name: string; grid?: Record<string, unknown>; notes?: string }): number {
  const existing = db.prepare('SELECT id FROM studies WHERE name = ?').get(s.name);
  if (existing) throw new LabError('INVALID_ARGUMENT', `name: a study named '${s.name}' already exists`, { field: 'name' });
  const info = db
    .prepare('INSERT INTO studies (name, created_at, grid_json, notes) VALUES (?, ?, ?, ?)')
    .run(s.name, new Date().toISOString(), JSON.stringify(s.grid ?? {}), s.notes ?? '');
  return Number(info.lastInsertRowid);
}

/** The study's id, creating it (with no grid) the first time the name is used. */
export function ensureStudy(db: Db, name: string): number {
  const row = db.prepare('SELECT id FROM studies WHERE name = ?').get(name) as { id: number } | undefined;
  return row?.id ?? createStudy(db, { name });
}

export function addRunsToStudy(db: Db, studyId: number, runIds: number[]): void {
  const add = db.prepare('INSERT OR IGNORE INTO study_runs (study_id, run_id) VALUES (?, ?)');
  db.transaction(() => runIds.forEach((id) => add.run(studyId, id)))();
}

export function getStudy(db: Db, name: string): StudyRecord {
  const r = db.prepare('SELECT * FROM studies WHERE name = ?').get(name) as
    | { id: number; name: string; created_at: string; grid_json: string; notes: string }
    | undefined;
  if (!r) throw new LabError('NOT_FOUND', `no study named '${name}' in this database`, { study: name });
  const runIds = (db.prepare('SELECT run_id FROM study_runs WHERE study_id = ? ORDER BY run_id').pluck().all(r.id) as number[]);
  return { id: r.id, name: r.name, createdAt: r.created_at, grid: JSON.parse(r.grid_json) as Record<string, unknown>, notes: r.notes, runIds };
}

export function listStudies(db: Db): { id: number; name: string; createdAt: string; runs: number }[] {
  return db
    .prepare(
      `SELECT s.id, s.name, s.created_at AS createdAt, count(sr.run_id) AS runs FROM studies s
       LEFT JOIN study_runs sr ON sr.study_id = s.id GROUP BY s.id ORDER BY s.id`,
    )
    .all() as { id: number; name: string; createdAt: string; runs: number }[];
}
