/**
 * Importing an export document (export-format.ts) into a store: all of it or nothing, in one transaction.
 *
 * Import is idempotent per run: a run keeps its uid (and its created_at, config hash and name) wherever it
 * travels, and a run of the document this store has already is not imported again (see matchExisting).
 */
import type { LabError } from '../../src-shared/errors';
import type { StoredRunStatus } from '../../src-shared/run-record';
import type { Db } from './database';
import { column, decodeFloat, FLOAT64, INT32, METRIC_TABLES, numbersToBlob, RUN_COLUMN_KEYS } from './export-format';
import type { DatasetExport, ExportDocument, RunExport, StudyExport } from './export-format';
import { insertColumns } from './export-rows';
import { invalid, parseExportDocument, runLabel } from './import-validation';
import { rebuildBuckets } from './metrics';
import { saveResumePoint } from './resume-points';
import { isLive } from './runs';

/** How far a run got: what tells two copies of one run apart (one exported mid-run, one after it ended). */
export interface RunProgress {
  status: StoredRunStatus;
  epochsCompleted: number;
  stepsCompleted: number;
}

/** A run of the document this store has already. */
export interface ExistingRun {
  /** Its id in this store. */
  id: number;
  /**
   * null when the copy here is as far along as the document's; else both (the document's status as exported:
   * 'running' for a run exported mid-run). The copy here is not updated from the document: only a parent link
   * it lacks is filled in (linkParents).
   */
  differs: { here: RunProgress; export: RunProgress } | null;
}

export interface ImportResult {
  /** Each run imported: its id in the document → its new id in this store. */
  runIds: Map<number, number>;
  /** Each run of the document that was here already (not imported again): its id in the document → the one here. */
  existing: Map<number, ExistingRun>;
  /** Names of the studies created or added to (a study that had all its runs of the document already is not). */
  studies: string[];
}

/** A dataset's id in this store: the existing row with the same spec and content, or a new one. */
function importDataset(db: Db, d: DatasetExport): number {
  const spec = JSON.stringify(d.spec);
  db.prepare(
    `INSERT INTO datasets (name, spec_json, source_json, content_hash, classes_json, train_count, test_count, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (spec_json, content_hash) DO NOTHING`,
  ).run(d.name, spec, JSON.stringify(d.source), d.contentHash, JSON.stringify(d.classes), d.trainCount, d.testCount, d.createdAt);
  const row = db.prepare('SELECT id FROM datasets WHERE spec_json = ? AND content_hash = ?').get(spec, d.contentHash) as { id: number };
  return row.id;
}

/**
 * The same progress: equal epochs and steps, and equal statuses — except that a run exported while unfinished
 * (queued or running) is as far along as an unfinished run here (queued, running, or interrupted: what its import
 * made of it).
 */
function sameProgress(here: RunProgress, exported: RunProgress): boolean {
  if (here.epochsCompleted !== exported.epochsCompleted || here.stepsCompleted !== exported.stepsCompleted) return false;
  if (isLive(exported.status)) return isLive(here.status) || here.status === 'interrupted';
  return here.status === exported.status;
}

/**
 * The document's runs this store has already, each matched to one run here. A run is known by its uid, which
 * every store keeps. A run without one (a version 1 export), or whose uid this store does not know (its copy here
 * came in such an export and was given a uid of its own), is known by what no store changes either: its
 * created_at (to the millisecond), config hash and name; runs alike in all three are matched one to one, in id
 * order on both sides, after the uid matches. A run here with the document's uid but another created_at or
 * config is not the same run (UUIDs do not collide: the export was edited or damaged): the import is refused,
 * naming both, rather than import the run under a fresh uid and leave two runs that claim one identity.
 */
function matchExisting(db: Db, runs: RunExport[]): Map<number, ExistingRun> {
  const progress = 'id, status, epochs_completed AS epochsCompleted, steps_completed AS stepsCompleted';
  const byUid = db.prepare(`SELECT ${progress}, created_at AS createdAt, config_hash AS configHash FROM runs WHERE uid = ?`);
  const byIdentity = db.prepare(`SELECT ${progress} FROM runs WHERE created_at = ? AND config_hash = ? AND name = ? ORDER BY id`);
  type Here = RunProgress & { id: number };
  const sorted = [...runs].sort((a, b) => a.id - b.id);
  const matched = new Map<number, Here>();
  for (const run of sorted) {
    if (run.uid === undefined) continue;
    const row = byUid.get(run.uid) as (Here & { createdAt: string; configHash: string }) | undefined;
    if (!row) continue;
    if (row.createdAt !== run.createdAt || row.configHash !== run.configHash) throw uidConflict(runs.indexOf(run), run, row);
    matched.set(run.id, row);
  }
  const claimed = new Set([...matched.values()].map((r) => r.id));
  for (const run of sorted) {
    if (matched.has(run.id)) continue;
    const here = (byIdentity.all(run.createdAt, run.configHash, run.name) as Here[]).find((r) => !claimed.has(r.id));
    if (!here) continue;
    claimed.add(here.id);
    matched.set(run.id, here);
  }
  const existing = new Map<number, ExistingRun>();
  for (const run of sorted) {
    const here = matched.get(run.id);
    if (!here) continue;
    const exported: RunProgress = { status: run.status, epochsCompleted: run.epochsCompleted, stepsCompleted: run.stepsCompleted };
    const progressHere: RunProgress = { status: here.status, epochsCompleted: here.epochsCompleted, stepsCompleted: here.stepsCompleted };
    existing.set(run.id, { id: here.id, differs: sameProgress(progressHere, exported) ? null : { here: progressHere, export: exported } });
  }
  return existing;
}

function uidConflict(index: number, run: RunExport, here: { id: number; createdAt: string; configHash: string }): LabError {
  const what = here.createdAt !== run.createdAt ? `created ${here.createdAt}, not ${run.createdAt}` : `its config differs (hash ${here.configHash.slice(0, 12)}…, not ${run.configHash.slice(0, 12)}…)`;
  return invalid(
    `runs.${index}.uid: ${runLabel(run)} has the uid ${run.uid} of run ${here.id} here, which is another run (${what}); the export was edited or damaged. Nothing was imported`,
    { field: `runs.${index}.uid`, runId: run.id, uid: run.uid, existingRunId: here.id },
  );
}

/**
 * A run exported while queued or training has no process behind it here: it arrives 'interrupted', as
 * recoverInterrupted marks an orphan (no owner, an INTERRUPTED error, ended when the export was taken).
 */
function asImported(run: RunExport, exportedAt: string): RunExport {
  if (!isLive(run.status)) return run;
  return {
    ...run,
    status: 'interrupted',
    endedAt: run.endedAt ?? exportedAt,
    ownerPid: null,
    ownerHost: null,
    errorCode: run.errorCode ?? 'INTERRUPTED',
    errorMessage: run.errorMessage ?? `exported while ${run.status}; ${run.epochsCompleted} epoch(s) completed`,
  };
}

/** The runs row (parent_id unset: linked once every run has its new id). */
function insertRunRow(db: Db, run: RunExport, datasetId: number | null): number {
  const keys = RUN_COLUMN_KEYS.filter((k) => k !== 'id' && k !== 'parentId');
  const values: Record<string, unknown> = Object.fromEntries(keys.map((k) => [k, run[k]]));
  Object.assign(values, {
    // A version 1 document has none: the run gets its own here (migration 5's trigger), which later exports carry.
    uid: run.uid ?? null,
    wallSeconds: decodeFloat(run.wallSeconds),
    datasetId,
    configJson: JSON.stringify(run.config),
    tagsJson: JSON.stringify(run.tags),
    errorDetailsJson: run.errorDetails === null ? null : JSON.stringify(run.errorDetails),
    startedFromJson: run.startedFrom ? JSON.stringify(run.startedFrom) : null,
  });
  const names = Object.keys(values);
  const info = db
    .prepare(`INSERT INTO runs (${names.map(column).join(', ')}) VALUES (${names.map((n) => `@${n}`).join(', ')})`)
    .run(values);
  return Number(info.lastInsertRowid);
}

function insertConfusion(db: Db, runId: number, rows: RunExport['confusionMatrices']): void {
  const insert = db.prepare('INSERT INTO confusion_matrices (run_id, epoch, matrix_json, per_class_accuracy_json, misclassified) VALUES (?, ?, ?, ?, ?)');
  for (const c of rows) insert.run(runId, c.epoch, JSON.stringify(c.matrix), JSON.stringify(c.perClassAccuracy), numbersToBlob(c.misclassified, INT32));
}

function insertStepSizes(db: Db, runId: number, rows: RunExport['stepSizes']): void {
  const insert = db.prepare('INSERT INTO step_sizes (run_id, step, sizes) VALUES (?, ?, ?)');
  for (const s of rows) insert.run(runId, s.step, numbersToBlob(s.sizes.map((x) => decodeFloat(x) ?? Number.NaN), FLOAT64));
}

function insertCheckpoints(db: Db, runId: number, rows: RunExport['checkpoints'] = []): void {
  const insert = db.prepare('INSERT INTO checkpoints (run_id, epoch, step, bytes, created_at, data) VALUES (?, ?, ?, ?, ?, ?)');
  for (const c of rows) insert.run(runId, c.epoch, c.step, c.bytes, c.createdAt, Buffer.from(c.data, 'base64'));
}

/** One run and all its rows; returns its new id. */
function importRun(db: Db, exported: RunExport, datasetIds: Map<number, number>, exportedAt: string): number {
  const run = asImported(exported, exportedAt);
  const id = insertRunRow(db, run, run.datasetId === null ? null : (datasetIds.get(run.datasetId) ?? null));
  insertColumns(db, METRIC_TABLES.batchMetrics, id, run.batchMetrics);
  insertColumns(db, METRIC_TABLES.epochMetrics, id, run.epochMetrics);
  insertColumns(db, METRIC_TABLES.evaluations, id, run.evaluations);
  insertConfusion(db, id, run.confusionMatrices);
  insertStepSizes(db, id, run.stepSizes);
  insertCheckpoints(db, id, run.checkpoints);
  if (run.resumePoint) saveResumePoint(db, id, { ...run.resumePoint, data: Buffer.from(run.resumePoint.data, 'base64') });
  rebuildBuckets(db, id);
  return id;
}

/**
 * Parent links within the document, by ids here: every imported run gets its parent (imported or here already;
 * a parent outside the document stays null), and a run that was here without a parent gains the document's — say
 * it came in an earlier export that lacked its parent. A parent link a run here has is never changed.
 */
function linkParents(db: Db, runs: RunExport[], idsHere: Map<number, number>): void {
  const link = db.prepare('UPDATE runs SET parent_id = ? WHERE id = ? AND parent_id IS NULL');
  for (const run of runs) {
    const parent = run.parentId === null ? undefined : idsHere.get(run.parentId);
    const child = idsHere.get(run.id)!;
    if (parent !== undefined && parent !== child) link.run(parent, child);
  }
}

/**
 * The study by name (created if this store has none of that name) gains the document's runs of it, by their ids
 * here. Whether that changed anything: a study re-imported with runs it has already did not.
 */
function importStudy(db: Db, s: StudyExport, idsHere: Map<number, number>): boolean {
  const { changes: created } = db
    .prepare('INSERT INTO studies (name, created_at, grid_json, notes) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING')
    .run(s.name, s.createdAt, JSON.stringify(s.grid), s.notes);
  const studyId = db.prepare('SELECT id FROM studies WHERE name = ?').pluck().get(s.name) as number;
  const add = db.prepare('INSERT OR IGNORE INTO study_runs (study_id, run_id) VALUES (?, ?)');
  let added = 0;
  for (const old of s.runIds) {
    const id = idsHere.get(old);
    if (id !== undefined) added += add.run(studyId, id).changes;
  }
  return created + added > 0;
}

function importParsed(db: Db, doc: ExportDocument): ImportResult {
  const existing = matchExisting(db, doc.runs);
  const toImport = doc.runs.filter((r) => !existing.has(r.id));
  // Only the datasets the imported runs trained on: a run here already has its own link.
  const used = new Set(toImport.map((r) => r.datasetId));
  const datasetIds = new Map(doc.datasets.filter((d) => used.has(d.id)).map((d) => [d.id, importDataset(db, d)]));
  const runIds = new Map(toImport.map((r) => [r.id, importRun(db, r, datasetIds, doc.exportedAt)]));
  const idsHere = new Map(doc.runs.map((r) => [r.id, runIds.get(r.id) ?? existing.get(r.id)!.id]));
  linkParents(db, doc.runs, idsHere);
  const studies = doc.studies.filter((s) => importStudy(db, s, idsHere)).map((s) => s.name);
  return { runIds, existing, studies };
}

/** A constraint the document breaks (say a step twice in one run) is the document's fault: INVALID_ARGUMENT. */
function asImportError(e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) {
    return invalid(`the export could not be imported, nothing was imported: ${(e as Error).message}`, { sqliteCode: code });
  }
  return e;
}

/**
 * Imports an export document: validated first (INVALID_ARGUMENT naming the field), then everything in one
 * transaction — all of it or nothing. A run this store has already (same uid, or for a run without a known one
 * the same created_at, config hash and name: see matchExisting) is not imported again and is left as it is, even
 * when the document has more of it (reported in `existing`); the others get new ids and keep their uids (parent
 * links inside the document follow them, others become null). A document's run whose uid belongs to another run
 * here is refused (nothing imported).
 * Datasets already here (same spec and content hash) are reused; a study whose name exists gains the runs, those
 * already here by their ids here. Runs exported while queued or running arrive 'interrupted' (see asImported).
 */
export function importDocument(db: Db, input: unknown): ImportResult {
  return importExportDocument(db, parseExportDocument(input));
}

/** importDocument of a document parseExportDocument has already validated (to check a file before opening a store). */
export function importExportDocument(db: Db, doc: ExportDocument): ImportResult {
  try {
    // Immediate: it reads (matchExisting), then writes. Deferred, the upgrade to a write lock fails at once
    // (SQLITE_BUSY, no busy timeout) whenever another process writes the store meanwhile: a second import, a run.
    return db.transaction(() => importParsed(db, doc)).immediate();
  } catch (e) {
    throw asImportError(e);
  }
}
