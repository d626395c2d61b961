/** Studies: a named group of runs with the grid that made them, for the comparison views. */
import { LabError } from '../../src-shared/errors';
import type { StoredRunStatus } from '../../src-shared/run-record';
import type { Db } from './database';

export interface StudyRecord {
  id: number;
  name: string;
  createdAt: string;
  grid: Record<string, unknown>;
  notes: string;
  runIds: number[];
}

export interface StudySummary {
  id: number;
  name: string;
  createdAt: string;
  notes: string;
  /** How many runs it holds. */
  runs: number;
}

const studyNotFound = (name: string) => new LabError('NOT_FOUND', `no study named '${name}' in this database`, { study: name });

function studyId(db: Db, name: string): number | undefined {
  return db.prepare('SELECT id FROM studies WHERE name = ?').pluck().get(name) as number | undefined;
}

export function createStudy(db: Db, s: { name: string; grid?: Record<string, unknown>; notes?: string }): number {
  if (studyId(db, s.name) !== undefined) throw new LabError('INVALID_ARGUMENT', `name: a study named '${s.name}' already exists`, { field: 'name' });
  const info = db
    .prepare('INSERT INTO studies (name, created_at, grid_json, notes) VALUES (?, ?, ?, ?)')
    .run(s.name, new Date().toISOString(), JSON.stringify(s.grid ?? {}), s.notes ?? '');
  return Number(info.lastInsertRowid);
}


/** A grid as compared: its keys sorted (the values' order is the sweep's, and kept). */
const gridKey = (grid: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(grid).sort(([a], [b]) => a.localeCompare(b))));

/**
 * The study a sweep (`train --sweep … --study <name>`) adds its runs to: created with `grid` if new, or one that
 * exists with the same grid (the same sweep run again). One that exists with another grid, or none (runs added by
 * hand), is refused (INVALID_ARGUMENT, field study): its grid would no longer say what made its runs.
 */
export function studyForSweep(db: Db, name: string, grid: Record<string, unknown>): number {
  return db.transaction(() => {
    const id = studyId(db, name);
    if (id === undefined) return createStudy(db, { name, grid });
    const stored = getStudy(db, name).grid;
    if (gridKey(stored) === gridKey(grid)) return id;
    const has = Object.keys(stored).length ? `the grid ${JSON.stringify(stored)}` : 'no grid (runs added by hand or by train without --sweep)';
    throw new LabError('INVALID_ARGUMENT', `--study: study '${name}' exists with ${has}, not this sweep's ${JSON.stringify(grid)}; choose another --study name`, {
      field: 'study',
    });
  }).immediate(); // reads, then writes: wait for the write lock rather than fail on it (SQLITE_BUSY)
}

/** The ids among `runIds` the store has no run of, in the order given. */
function missingRuns(db: Db, runIds: number[]): number[] {
  const exists = db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck();
  return runIds.filter((id) => exists.get(id) === undefined);
}

/**
 * Adds runs to the study (by id; a run already in it stays, once). All or nothing: NOT_FOUND naming every id the
 * store has no run of, and nothing added. Returns which runs were added and which were in the study already.
 */
export function addRunsToStudy(db: Db, studyId: number, runIds: number[]): { added: number[]; already: number[] } {
  const ids = [...new Set(runIds)];
  return db.transaction(() => {
    const missing = missingRuns(db, ids);
    if (missing.length > 0) {
      const name = db.prepare('SELECT name FROM studies WHERE id = ?').pluck().get(studyId) as string;
      throw new LabError('NOT_FOUND', `no run with id ${missing.join(', ')} in this database; nothing was added to study '${name}'`, {
        field: 'ids',
        runIds: missing,
      });
    }
    const add = db.prepare('INSERT OR IGNORE INTO study_runs (study_id, run_id) VALUES (?, ?)');
    const added = ids.filter((id) => add.run(studyId, id).changes > 0);
    return { added, already: ids.filter((id) => !added.includes(id)) };
  }).immediate(); // reads, then writes: wait for the write lock rather than fail on it (SQLITE_BUSY)
}

/**
 * `odelab studies add`: the study `name` (created if new) gains the runs, and with `notes` its notes are replaced.
 * One transaction: an unknown run id (NOT_FOUND naming each) leaves everything as it was, no study created.
 */
export function addToStudy(
  db: Db,
  name: string,
  runIds: number[],
  opts: { notes?: string } = {},
): { id: number; created: boolean; added: number[]; already: number[] } {
  return db.transaction(() => {
    const existing = studyId(db, name);
    const id = existing ?? createStudy(db, { name });
    const { added, already } = addRunsToStudy(db, id, runIds);
    if (opts.notes !== undefined) setStudyNotes(db, name, opts.notes);
    return { id, created: existing === undefined, added, already };
  }).immediate(); // reads, then writes: wait for the write lock rather than fail on it (SQLITE_BUSY)
}

/**
 * Takes runs out of the study (the runs stay in the store). All or nothing: NOT_FOUND naming every id that is not
 * in the study, and nothing removed.
 */
export function removeRunsFromStudy(db: Db, name: string, runIds: number[]): { removed: number[] } {
  const ids = [...new Set(runIds)];
  return db.transaction(() => {
    const study = getStudy(db, name);
    const members = new Set(study.runIds);
    const outside = ids.filter((id) => !members.has(id));
    if (outside.length > 0) {
      throw new LabError(
        'NOT_FOUND',
        `run ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} not in study '${name}'; nothing was removed`,
        { field: 'ids', study: name, runIds: outside },
      );
    }
    const remove = db.prepare('DELETE FROM study_runs WHERE study_id = ? AND run_id = ?');
    ids.forEach((id) => remove.run(study.id, id));
    return { removed: ids };
  }).immediate(); // reads, then writes: wait for the write lock rather than fail on it (SQLITE_BUSY)
}

/** Replaces the study's notes; NOT_FOUND when there is no such study. */
export function setStudyNotes(db: Db, name: string, notes: string): void {
  const { changes } = db.prepare('UPDATE studies SET notes = ? WHERE name = ?').run(notes, name);
  if (changes === 0) throw studyNotFound(name);
}

/** Deletes the study (its grid, notes and membership list), not its runs. Returns the runs it held. */
export function deleteStudy(db: Db, name: string): { runIds: number[] } {
  return db.transaction(() => {
    const study = getStudy(db, name);
    db.prepare('DELETE FROM studies WHERE id = ?').run(study.id);
    return { runIds: study.runIds };
  }).immediate(); // reads, then writes: wait for the write lock rather than fail on it (SQLITE_BUSY)
}

export function getStudy(db: Db, name: string): StudyRecord {
  const r = db.prepare('SELECT * FROM studies WHERE name = ?').get(name) as
    | { id: number; name: string; created_at: string; grid_json: string; notes: string }
    | undefined;
  if (!r) throw studyNotFound(name);
  const runIds = (db.prepare('SELECT run_id FROM study_runs WHERE study_id = ? ORDER BY run_id').pluck().all(r.id) as number[]);
  return { id: r.id, name: r.name, createdAt: r.created_at, grid: JSON.parse(r.grid_json) as Record<string, unknown>, notes: r.notes, runIds };
}

/** A study's run as a sweep run again looks for its combinations: its status and stored config (JSON as stored). */
export interface StudyRunConfig {
  id: number;
  status: StoredRunStatus;
  config: unknown;
}

/** The study's runs, oldest first, with their status and stored config. */
export function studyRunConfigs(db: Db, studyId: number): StudyRunConfig[] {
  const rows = db
    .prepare('SELECT r.id, r.status, r.config_json FROM study_runs sr JOIN runs r ON r.id = sr.run_id WHERE sr.study_id = ? ORDER BY r.id')
    .all(studyId) as { id: number; status: StoredRunStatus; config_json: string }[];
  return rows.map(({ id, status, config_json }) => ({ id, status, config: JSON.parse(config_json) as unknown }));
}

/** Every study, oldest first, with how many runs it holds. */
export function listStudies(db: Db): StudySummary[] {
  return db
    .prepare(
      `SELECT s.id, s.name, s.created_at AS createdAt, s.notes, count(sr.run_id) AS runs FROM studies s
       LEFT JOIN study_runs sr ON sr.study_id = s.id GROUP BY s.id ORDER BY s.id`,
    )
    .all() as StudySummary[];
}
