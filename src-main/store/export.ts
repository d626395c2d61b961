/**
 * Moving runs between run stores: a versioned JSON document (runs with every stored row of theirs, the studies
 * they belong to, the datasets they trained on, and — when asked — their checkpoints), its import, and CSV of
 * the metric tables for spreadsheets and pandas.
 *
 * Lossless: export → import into another store → export gives the same document but for ids and exportedAt.
 * Import is idempotent per run: a run keeps its uid (and its created_at, config hash and name) wherever it
 * travels, and a run of the document this store has already is not imported again (see matchExisting).
 * Every double survives bit for bit: JSON numbers round-trip doubles, and the few a JSON number cannot carry
 * (±Infinity, NaN, −0) travel as their names ('Infinity', …). Blobs travel as base64 (checkpoints) or as the
 * numbers they encode (step sizes, misclassified indices). metric_buckets are derived: never exported, rebuilt
 * on import.
 *
 * Metric tables travel columnar (`{ step: [...], loss: [...] }`): a run's batch_metrics is its biggest part
 * (one row per training step) and column arrays do not repeat the nine keys on every row — about half the
 * size — and are the shape a chart or a dataframe takes.
 */
import { z } from 'zod';
import { describeIssues } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { droppedKeys, readStoredConfig, RunConfig } from '../../src-shared/run-config';
import { STORED_RUN_STATUSES, type StoredRunStatus } from '../../src-shared/run-record';
import { checkpointProblem } from './checkpoints';
import type { Db } from './database';
import { rebuildBuckets } from './metrics';
import { isLive } from './runs';
import { SCHEMA_VERSION } from './migrations';

export const EXPORT_FORMAT = 'neural-ode-lab.runs';
/** 2: each run's uid. Version 1 documents (without it) still import: see matchExisting. */
export const EXPORT_VERSION = 2;

// ── Values ───────────────────────────────────────────────────────────────────────────────────────────────────

const NON_JSON_FLOATS = ['Infinity', '-Infinity', 'NaN', '-0'] as const;
/** A double in JSON: a number, or the name of one a JSON number cannot carry. */
/** A double as JSON carries it: non-finite values and −0 as strings; null where the column holds NULL (a NaN). */
const Float = z.union([z.number(), z.enum(NON_JSON_FLOATS), z.null()]);
export type Float = z.infer<typeof Float>;

export function encodeFloat(x: number | null): Float {
  if (x === null) return null;
  if (Object.is(x, -0)) return '-0';
  return Number.isFinite(x) ? x : (String(x) as Float);
}

export function decodeFloat(x: Float): number | null {
  if (x === null || typeof x === 'number') return x;
  return x === '-0' ? -0 : Number(x);
}

const Int = z.number().int();
const Id = Int.positive();
const Int32 = Int.min(-0x80000000).max(0x7fffffff);
const Text = z.string();
const JsonObject = z.record(z.string(), z.json());

/** camelCase document key → snake_case column. */
const column = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

// ── Metric tables (columnar) ─────────────────────────────────────────────────────────────────────────────────

const ints = z.array(Int);
const floats = z.array(Float);

/** Each table's columns besides run_id, in table order; the first is the one rows are ordered by. */
const BATCH_COLUMNS = {
  step: ints,
  epoch: ints,
  batch: ints,
  loss: floats,
  accuracy: floats,
  nfeForward: ints,
  nfeBackward: ints,
  seconds: floats,
  wallSeconds: floats,
};
const EPOCH_COLUMNS = {
  epoch: ints,
  step: ints,
  loss: floats,
  accuracy: floats,
  testLoss: floats,
  testAccuracy: floats,
  nfeForwardMean: floats,
  nfeForwardMax: floats,
  nfeBackwardMean: floats,
  nfeBackwardMax: floats,
  stepsAccepted: ints,
  stepsRejected: ints,
  testNfeForwardMean: floats,
  seconds: floats,
  wallSeconds: floats,
  peakTensorBytes: ints,
  rssBytes: ints,
};
const EVALUATION_COLUMNS = {
  step: ints,
  epoch: ints,
  testLoss: floats,
  testAccuracy: floats,
  evaluated: ints,
  nfeForward: floats,
};

/** A columnar table: one array per column, all of one length. */
function columnar<T extends Record<string, z.ZodType<unknown[]>>>(shape: T) {
  return z.strictObject(shape).superRefine((cols, ctx) => {
    const lengths = Object.values(cols).map((c) => (c as unknown[]).length);
    Object.keys(cols).forEach((key, i) => {
      if (lengths[i] !== lengths[0]) {
        ctx.addIssue({ code: 'custom', path: [key], message: `has ${lengths[i]} values where the first column has ${lengths[0]}` });
      }
    });
  });
}

type Columns = Record<string, Float[]>;

const METRIC_TABLES = {
  batchMetrics: { table: 'batch_metrics', keys: Object.keys(BATCH_COLUMNS) },
  epochMetrics: { table: 'epoch_metrics', keys: Object.keys(EPOCH_COLUMNS) },
  evaluations: { table: 'evaluations', keys: Object.keys(EVALUATION_COLUMNS) },
} as const;
type MetricTable = (typeof METRIC_TABLES)[keyof typeof METRIC_TABLES];

function readRows(db: Db, t: MetricTable, runId: number): number[][] {
  const cols = t.keys.map(column).join(', ');
  return db
    .prepare(`SELECT ${cols} FROM ${t.table} WHERE run_id = ? ORDER BY ${column(t.keys[0])}`)
    .raw()
    .all(runId) as number[][];
}

function readColumns(db: Db, t: MetricTable, runId: number): Columns {
  const rows = readRows(db, t, runId);
  return Object.fromEntries(t.keys.map((key, i) => [key, rows.map((r) => encodeFloat(r[i]))]));
}

function insertColumns(db: Db, t: MetricTable, runId: number, cols: Columns): void {
  const names = t.keys.map(column);
  const insert = db.prepare(`INSERT INTO ${t.table} (run_id, ${names.join(', ')}) VALUES (?${', ?'.repeat(names.length)})`);
  const count = cols[t.keys[0]].length;
  for (let i = 0; i < count; i++) insert.run(runId, ...t.keys.map((key) => decodeFloat(cols[key][i])));
}

// ── Blobs ────────────────────────────────────────────────────────────────────────────────────────────────────

const INT32 = { width: 4, read: (v: DataView, o: number) => v.getInt32(o, true), write: (v: DataView, o: number, x: number) => v.setInt32(o, x, true) };
const FLOAT64 = { width: 8, read: (v: DataView, o: number) => v.getFloat64(o, true), write: (v: DataView, o: number, x: number) => v.setFloat64(o, x, true) };
type Codec = typeof INT32;

/** A little-endian blob as its numbers; a length that is not a whole number of them means a damaged row. */
function blobToNumbers(blob: Buffer, codec: Codec, where: string): number[] {
  if (blob.byteLength % codec.width !== 0) {
    throw new LabError('STORE_UNREADABLE', `${where}: ${blob.byteLength} bytes is not a whole number of ${codec.width}-byte values`, { where });
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  return Array.from({ length: blob.byteLength / codec.width }, (_, i) => codec.read(view, i * codec.width));
}

function numbersToBlob(values: number[], codec: Codec): Buffer {
  const blob = Buffer.alloc(values.length * codec.width);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  values.forEach((x, i) => codec.write(view, i * codec.width, x));
  return blob;
}

// ── Document schema ──────────────────────────────────────────────────────────────────────────────────────────

const ConfusionExport = z.strictObject({
  epoch: Int,
  /** Rows = true class, columns = predicted. */
  matrix: z.array(z.array(z.number())),
  /** null where a class had no test images (NaN in JSON). */
  perClassAccuracy: z.array(z.number().nullable()),
  /** Indices of the misclassified test images. */
  misclassified: z.array(Int32),
});

const StepSizesExport = z.strictObject({ step: Int, sizes: floats });

const CheckpointExport = z.strictObject({
  epoch: Int,
  step: Int,
  bytes: Int,
  createdAt: Text,
  /** The engine's checkpoint bytes (ODLCKPT2, or ODLCKPT1 from before checksums), base64; checked on import. */
  data: z.base64(),
});

/**
 * The runs columns that travel as they are (camelCase of the column); config, tags and error details are parsed.
 * Not exported: final_json and best_json (derived from epoch_metrics by triggers), out_dir (a folder on the
 * machine that ran it), owner_started (a token only that machine's kernel can check) and cancel_requested (a
 * request to the process writing it).
 */
const RUN_COLUMNS = {
  id: Id,
  /** Absent in version 1 documents. */
  uid: z.uuid().optional(),
  name: Text,
  createdAt: Text,
  startedAt: Text.nullable(),
  endedAt: Text.nullable(),
  status: z.enum(STORED_RUN_STATUSES),
  configHash: Text,
  model: Text,
  dataset: Text,
  method: Text,
  seed: Int,
  backend: Text.nullable(),
  errorCode: Text.nullable(),
  errorMessage: Text.nullable(),
  notes: Text,
  /** Another run of this document (or null: a parent outside it is dropped on import). */
  parentId: Id.nullable(),
  ownerPid: Int.nullable(),
  ownerHost: Text.nullable(),
  parameterCount: Int.nullable(),
  trainSize: Int.nullable(),
  testSize: Int.nullable(),
  batchesPerEpoch: Int.nullable(),
  epochsCompleted: Int,
  stepsCompleted: Int,
  wallSeconds: Float,
  /** One of this document's datasets (or null). */
  datasetId: Id.nullable(),
};
const RUN_COLUMN_KEYS = Object.keys(RUN_COLUMNS) as (keyof typeof RUN_COLUMNS)[];

const RunExport = z.strictObject({
  ...RUN_COLUMNS,
  config: JsonObject,
  tags: z.array(Text),
  errorDetails: JsonObject.nullable(),
  /** The checkpoint file the run started from (train --resume); absent in documents written before it was kept. */
  startedFrom: z.strictObject({ file: Text, sha256: z.string().regex(/^[0-9a-f]{64}$/), epoch: Int, step: Int }).nullable().optional(),
  batchMetrics: columnar(BATCH_COLUMNS),
  epochMetrics: columnar(EPOCH_COLUMNS),
  evaluations: columnar(EVALUATION_COLUMNS),
  confusionMatrices: z.array(ConfusionExport),
  stepSizes: z.array(StepSizesExport),
  /** Present only when the export asked for checkpoints. */
  checkpoints: z.array(CheckpointExport).optional(),
});
export type RunExport = z.infer<typeof RunExport>;

const StudyExport = z.strictObject({
  name: Text,
  createdAt: Text,
  grid: JsonObject,
  notes: Text,
  /** This document's runs that belong to the study, in document order. */
  runIds: z.array(Id),
});
export type StudyExport = z.infer<typeof StudyExport>;

const DatasetExport = z.strictObject({
  id: Id,
  name: Text,
  spec: z.json(),
  source: z.json(),
  contentHash: Text,
  classes: z.array(Text),
  trainCount: Int,
  testCount: Int,
  createdAt: Text,
});
export type DatasetExport = z.infer<typeof DatasetExport>;

/** Flags values that must be unique within a list (run ids and uids, dataset ids, study names); undefined ones aside. */
function refineUnique<T>(ctx: z.RefinementCtx, items: T[], key: (item: T) => unknown, path: string, field: string): void {
  const seen = new Set<unknown>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [path, i, field], message: `${JSON.stringify(k)} appears twice` });
    seen.add(k);
  });
}

const ExportDocument = z
  .strictObject({
    format: z.literal(EXPORT_FORMAT),
    version: Int.min(1).max(EXPORT_VERSION),
    exportedAt: Text,
    /** The exporting store's schema version (informational: `version` is what import reads by). */
    schemaVersion: Int,
    runs: z.array(RunExport),
    studies: z.array(StudyExport),
    datasets: z.array(DatasetExport),
  })
  .superRefine((doc, ctx) => {
    refineUnique(ctx, doc.runs, (r) => r.id, 'runs', 'id');
    refineUnique(ctx, doc.runs, (r) => r.uid, 'runs', 'uid');
    refineUnique(ctx, doc.datasets, (d) => d.id, 'datasets', 'id');
    refineUnique(ctx, doc.studies, (s) => s.name, 'studies', 'name');
  });
export type ExportDocument = z.infer<typeof ExportDocument>;

export interface ExportOptions {
  /** Include each run's checkpoints (their bytes, base64): complete but large. */
  checkpoints?: boolean;
}

// ── Export ───────────────────────────────────────────────────────────────────────────────────────────────────

type Row = Record<string, unknown>;

function uniqueIds(ids: number[]): number[] {
  return [...new Set(ids)];
}

/** The runs rows of `ids`, in that order; NOT_FOUND naming every id the store lacks. */
function runRows(db: Db, ids: number[]): Row[] {
  const get = db.prepare('SELECT * FROM runs WHERE id = ?');
  const rows = ids.map((id) => get.get(id) as Row | undefined);
  const missing = ids.filter((_, i) => rows[i] === undefined);
  if (missing.length > 0) {
    throw new LabError('NOT_FOUND', `no run with id ${missing.join(', ')} in this database`, { runIds: missing });
  }
  return rows as Row[];
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

function exportRun(db: Db, row: Row, opts: ExportOptions): RunExport {
  const id = row.id as number;
  return {
    ...runFields(row),
    batchMetrics: readColumns(db, METRIC_TABLES.batchMetrics, id) as RunExport['batchMetrics'],
    epochMetrics: readColumns(db, METRIC_TABLES.epochMetrics, id) as RunExport['epochMetrics'],
    evaluations: readColumns(db, METRIC_TABLES.evaluations, id) as RunExport['evaluations'],
    confusionMatrices: readConfusion(db, id),
    stepSizes: readStepSizes(db, id),
    ...(opts.checkpoints ? { checkpoints: readCheckpoints(db, id) } : {}),
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
    version: EXPORT_VERSION,
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

// ── CSV ──────────────────────────────────────────────────────────────────────────────────────────────────────

const CSV_TABLES = { batch: METRIC_TABLES.batchMetrics, epoch: METRIC_TABLES.epochMetrics, evaluation: METRIC_TABLES.evaluations } as const;
export type CsvTable = keyof typeof CSV_TABLES;

/** An RFC 4180 field: quoted when it holds a quote, comma or line break. Numbers print as the shortest text that reads back to the same double. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRecord(values: (string | number)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/**
 * The runs' batch or epoch metrics, or in-epoch evaluations (--eval-every), as RFC 4180 CSV (CRLF line ends, a header row), runs in the order given:
 * run_id and run_name first, then the table's columns by their SQL names.
 */
export function exportCsv(db: Db, runIds: number[], table: CsvTable): string {
  const t = CSV_TABLES[table];
  return db.transaction(() => {
    const runs = runRows(db, uniqueIds(runIds));
    const lines = [csvRecord(['run_id', 'run_name', ...t.keys.map(column)])];
    for (const run of runs) {
      for (const row of readRows(db, t, run.id as number)) lines.push(csvRecord([run.id as number, run.name as string, ...row]));
    }
    return lines.join('');
  })();
}

// ── Import ───────────────────────────────────────────────────────────────────────────────────────────────────

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

const invalid = (message: string, details: Record<string, unknown> = {}) => new LabError('INVALID_ARGUMENT', message, details);

/** Format and version first, so a newer export is refused as such rather than as a list of unknown fields. */
function assertReadableVersion(input: unknown): void {
  const doc = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (doc.format !== EXPORT_FORMAT) {
    throw invalid(`format: not a Neural ODE Lab run export (expected '${EXPORT_FORMAT}', found ${JSON.stringify(doc.format) ?? 'nothing'})`, {
      field: 'format',
    });
  }
  if (typeof doc.version === 'number' && doc.version > EXPORT_VERSION) {
    throw invalid(
      `version: this export was written by a newer Neural ODE Lab (export format version ${doc.version}; this version reads up to ${EXPORT_VERSION}); update the lab to import it`,
      { field: 'version', version: doc.version, supported: EXPORT_VERSION },
    );
  }
}

const MAX_ISSUES_SHOWN = 5;

/** `field: reason` lines for at most MAX_ISSUES_SHOWN issues, and the issues as details. */
function issueReport(issues: z.core.$ZodIssue[]): { text: string; details: { path: string; message: string }[] } {
  const shown = new z.ZodError(issues.slice(0, MAX_ISSUES_SHOWN));
  const more = issues.length > MAX_ISSUES_SHOWN ? `\n(and ${issues.length - MAX_ISSUES_SHOWN} more)` : '';
  return { text: describeIssues(shown) + more, details: issues.slice(0, 100).map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

const runLabel = (run: RunExport) => `run ${run.id} (${JSON.stringify(run.name)})`;

/**
 * Every run's config must be one this version can train, resume and evaluate (readStoredConfig), or the import
 * is refused naming the run and the field. Settings this version does not know mean a newer lab exported the run;
 * so do invalid values when the exporting store's schema is newer than ours. Both cases are reported as a newer
 * lab's export rather than as "invalid". (Settings added since an older lab exported a run read as their defaults,
 * which is what it did.)
 */
function assertUsableConfigs(doc: ExportDocument): void {
  const problems: { run: RunExport; issues: z.core.$ZodIssue[]; unknown: boolean }[] = [];
  doc.runs.forEach((run, i) => {
    if (readStoredConfig(run.config)) return;
    const prefix = ['runs', i, 'config'];
    const parsed = RunConfig.safeParse(run.config);
    if (!parsed.success) {
      problems.push({ run, unknown: false, issues: parsed.error.issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] })) });
      return;
    }
    const issues = droppedKeys(run.config, parsed.data).map(
      (path): z.core.$ZodIssue => ({ code: 'custom', path: [...prefix, ...path], message: 'a setting this version of the lab does not know', input: undefined }),
    );
    problems.push({ run, unknown: true, issues });
  });
  if (problems.length === 0) return;
  const runs = problems.map((p) => p.run);
  const report = issueReport(problems.flatMap((p) => p.issues));
  const which = runs.length === 1 ? runLabel(runs[0]) : `${runs.length} runs (${runs.map((r) => r.id).join(', ')})`;
  const newer = doc.schemaVersion > SCHEMA_VERSION || problems.every((p) => p.unknown);
  const details = { field: report.details[0].path, runIds: runs.map((r) => r.id), issues: report.details };
  if (newer) {
    const by =
      doc.schemaVersion > SCHEMA_VERSION
        ? `written by a newer Neural ODE Lab (store schema version ${doc.schemaVersion}; this version understands up to ${SCHEMA_VERSION})`
        : 'probably written by a newer Neural ODE Lab';
    throw invalid(`the config of ${which} has settings this version of the lab does not know: the export was ${by}; update the lab to import it. Nothing was imported:\n${report.text}`, {
      ...details,
      newer: true,
    });
  }
  throw invalid(`the config of ${which} is not a valid run configuration; nothing was imported:\n${report.text}`, details);
}

/**
 * Every checkpoint must be whole: its data as long as its `bytes`, a checkpoint the engine reads (format, length,
 * checksum) and the one of its epoch and step (checkpointProblem). The store keeps checkpoints opaque, so one cut
 * short or damaged in the file would otherwise be imported and surface only at eval or resume. Refused naming each
 * run and epoch.
 */
function assertIntactCheckpoints(doc: ExportDocument): void {
  const issues: z.core.$ZodIssue[] = [];
  const damaged: string[] = [];
  doc.runs.forEach((run, i) =>
    run.checkpoints?.forEach((c, j) => {
      const problem = checkpointProblem(Buffer.from(c.data, 'base64'), c);
      if (!problem) return;
      issues.push({ code: 'custom', path: ['runs', i, 'checkpoints', j, 'data'], message: problem, input: undefined });
      damaged.push(`${runLabel(run)} at epoch ${c.epoch}`);
    }),
  );
  if (issues.length === 0) return;
  const report = issueReport(issues);
  const which = damaged.length === 1 ? `the checkpoint of ${damaged[0]} is` : `${damaged.length} checkpoints are (${damaged.join('; ')})`;
  throw invalid(`${which} damaged in the export; nothing was imported:\n${report.text}`, { field: report.details[0].path, issues: report.details });
}

/**
 * The document validated, or INVALID_ARGUMENT naming the fields (`runs.0.batchMetrics.loss.3: …`); each run's
 * config (assertUsableConfigs) and checkpoints (assertIntactCheckpoints) included.
 */
export function parseExportDocument(input: unknown): ExportDocument {
  assertReadableVersion(input);
  const result = ExportDocument.safeParse(input);
  if (!result.success) {
    const report = issueReport(result.error.issues);
    throw invalid(`not a valid run export; nothing was imported:\n${report.text}`, { issues: report.details });
  }
  assertUsableConfigs(result.data);
  assertIntactCheckpoints(result.data);
  return result.data;
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
