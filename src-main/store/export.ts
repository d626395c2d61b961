/**
 * Runs, or a study's runs, as the versioned JSON export document (export-format.ts): each run with all its stored
 * rows, the studies it belongs to, the datasets it trained on and, when asked, its checkpoints. CSV of the metric
 * tables is export-csv.ts; reading a document into a store, import.ts.
 */
import { LabError } from '../../src-shared/errors';
import type { Db } from './database';
import { blobToNumbers, column, encodeFloat, EXPORT_FORMAT, EXPORT_VERSION, EXPORT_VERSION_WITHOUT_RESUME_POINTS, FLOAT64, INT32, METRIC_TABLES, RUN_COLUMN_KEYS } from './export-format';
import type { DatasetExport, ExportDocument, RunExport, StudyExport } from './export-format';
import { readColumns, runRows, uniqueIds, type Row } from './export-rows';
import { SCHEMA_VERSION } from './migrations';
import { storedResumePoint } from './resume-points';

export interface ExportOptions {
  /** Include each run's checkpoints (their bytes, base64): complete but large. */
  checkpoints?: boolean;
}

function parseJsonColumn(text: unknown): unknown {
  return text === null ? null : JSON.parse(text as string);
}

function runFields(row: Row): Omit<RunExport, 'batchMetrics' | 'epochMetrics' | 'evaluations' | 'confusionMatrices' | 'stepSizes' | 'checkpoints'> {
  const fields = Object.fromEntries(RUN_COLUMN_KEYS.map((key) => [key, row[column(key)]]));
  return {
    ...(fields as Omit<RunExport, 'wallSeconds'>),
    wallSeconds: encodeFloat(row.wall_seconds as number),
    config: JSON.parse(row.config_json as string),
    tags: JSON.parse(row.tags_json as string),
    errorDetails: parseJsonColumn(row.error_details_json) as RunExport['errorDetails'],
    startedFrom: parseJsonColumn(row.started_from_json) as RunExport['startedFrom'],
  };
}

function readConfusion(db: Db, runId: number): RunExport['confusionMatrices'] {
  const rows = db
    .prepare('SELECT epoch, matrix_json, per_class_accuracy_json, misclassified FROM confusion_matrices WHERE run_id = ? ORDER BY epoch')
    .all(runId) as { epoch: number; matrix_json: string; per_class_accuracy_json: string; misclassified: Buffer }[];
  return rows.map((r) => ({
    epoch: r.epoch,
    matrix: JSON.parse(r.matrix_json),
    perClassAccuracy: JSON.parse(r.per_class_accuracy_json),
    misclassified: blobToNumbers(r.misclassified, INT32, `run ${runId} epoch ${r.epoch} misclassified`),
  }));
}

function readStepSizes(db: Db, runId: number): RunExport['stepSizes'] {
  const rows = db.prepare('SELECT step, sizes FROM step_sizes WHERE run_id = ? ORDER BY step').all(runId) as { step: number; sizes: Buffer }[];
  return rows.map((r) => ({ step: r.step, sizes: blobToNumbers(r.sizes, FLOAT64, `run ${runId} step ${r.step} sizes`).map(encodeFloat) }));
}

function readCheckpoints(db: Db, runId: number): NonNullable<RunExport['checkpoints']> {
  const rows = db
    .prepare('SELECT epoch, step, bytes, created_at, data FROM checkpoints WHERE run_id = ? ORDER BY epoch')
    .all(runId) as { epoch: number; step: number; bytes: number; created_at: string; data: Buffer }[];
  return rows.map((r) => ({ epoch: r.epoch, step: r.step, bytes: r.bytes, createdAt: r.created_at, data: r.data.toString('base64') }));
}

function readResumePoint(db: Db, runId: number): Pick<RunExport, 'resumePoint'> {
  const point = storedResumePoint(db, runId);
  return point ? { resumePoint: { ...point, data: point.data.toString('base64') } } : {};
}

function exportRun(db: Db, row: Row, opts: ExportOptions): RunExport {
  const id = row.id as number;
  return {
    ...runFields(row),
    batchMetrics: readColumns(db, METRIC_TABLES.batchMetrics, id) as RunExport['batchMetrics'],
    epochMetrics: readColumns(db, METRIC_TABLES.epochMetrics, id) as RunExport['epochMetrics'],
    evaluations: readColumns(db, METRIC_TABLES.evaluations, id) as RunExport['evaluations'],
    confusionMatrices: readConfusion(db, id),
    stepSizes: readStepSizes(db, id),
    ...(opts.checkpoints ? { checkpoints: readCheckpoints(db, id), ...readResumePoint(db, id) } : {}),
  };
}

function exportDatasets(db: Db, runs: RunExport[]): DatasetExport[] {
  const ids = uniqueIds(runs.flatMap((r) => (r.datasetId === null ? [] : [r.datasetId]))).sort((a, b) => a - b);
  const get = db.prepare('SELECT * FROM datasets WHERE id = ?');
  return ids.map((id) => {
    const r = get.get(id) as Row;
    return {
      id,
      name: r.name as string,
      spec: JSON.parse(r.spec_json as string),
      source: JSON.parse(r.source_json as string),
      contentHash: r.content_hash as string,
      classes: JSON.parse(r.classes_json as string),
      trainCount: r.train_count as number,
      testCount: r.test_count as number,
      createdAt: r.created_at as string,
    };
  });
}

/** Studies by id, each with its members among `runIds` (in that order). */
function exportStudies(db: Db, studyIds: number[], runIds: number[]): StudyExport[] {
  const get = db.prepare('SELECT name, created_at, grid_json, notes FROM studies WHERE id = ?');
  const members = db.prepare('SELECT run_id FROM study_runs WHERE study_id = ?').pluck();
  return studyIds.map((id) => {
    const s = get.get(id) as { name: string; created_at: string; grid_json: string; notes: string };
    const inStudy = new Set(members.all(id) as number[]);
    return { name: s.name, createdAt: s.created_at, grid: JSON.parse(s.grid_json), notes: s.notes, runIds: runIds.filter((r) => inStudy.has(r)) };
  });
}

function studiesOfRuns(db: Db, runIds: number[]): number[] {
  if (runIds.length === 0) return [];
  return db
    .prepare(`SELECT DISTINCT study_id FROM study_runs WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY study_id`)
    .pluck()
    .all(...runIds) as number[];
}

function buildDocument(db: Db, runIds: number[], studyIds: number[], opts: ExportOptions): ExportDocument {
  const runs = runRows(db, runIds).map((row) => exportRun(db, row, opts));
  return {
    format: EXPORT_FORMAT,
    version: runs.some((r) => r.resumePoint) ? EXPORT_VERSION : EXPORT_VERSION_WITHOUT_RESUME_POINTS,
    exportedAt: new Date().toISOString(),
    schemaVersion: SCHEMA_VERSION,
    runs,
    studies: exportStudies(db, studyIds, runIds),
    datasets: exportDatasets(db, runs),
  };
}

/**
 * The runs `runIds` (in that order, duplicates once) as an export document, with the datasets they trained on
 * and the studies they belong to (each listing only these runs). Read in one transaction: a consistent snapshot
 * even while a run is being recorded. NOT_FOUND when an id is not in the store.
 */
export function exportRuns(db: Db, runIds: number[], opts: ExportOptions = {}): ExportDocument {
  const ids = uniqueIds(runIds);
  return db.transaction(() => buildDocument(db, ids, studiesOfRuns(db, ids), opts))();
}

/** The study `name` with its grid and all its runs (by id). NOT_FOUND when there is no such study. */
export function exportStudy(db: Db, name: string, opts: ExportOptions = {}): ExportDocument {
  return db.transaction(() => {
    const study = db.prepare('SELECT id FROM studies WHERE name = ?').get(name) as { id: number } | undefined;
    if (!study) throw new LabError('NOT_FOUND', `no study named '${name}' in this database`, { study: name });
    const runIds = db.prepare('SELECT run_id FROM study_runs WHERE study_id = ? ORDER BY run_id').pluck().all(study.id) as number[];
    return buildDocument(db, runIds, [study.id], opts);
  })();
}
