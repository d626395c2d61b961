/**
 * The run export document: a versioned JSON document of runs with every stored row of theirs, the studies they
 * belong to, the datasets they trained on, and — when asked — their checkpoints. Its schema (zod: parsing is
 * validation) and the codecs between the store's values and the document's. export.ts builds it, import.ts reads it.
 *
 * Lossless: export → import into another store → export gives the same document but for ids and exportedAt.
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
import { LabError } from '../../src-shared/errors';
import { STORED_RUN_STATUSES } from '../../src-shared/run-record';

export const EXPORT_FORMAT = 'neural-ode-lab.runs';
/**
 * 2: each run's uid. Version 1 documents (without it) still import: see matchExisting (import.ts).
 * 3: a run's resume point (with --checkpoints). Only a document that holds one is written as version 3, so a lab
 * that reads up to 2 refuses one with a resume point as a newer lab's rather than drop it. (Labs before this one
 * refuse this one's exports anyway: its configs hold settings added since — augment, the step schedule's — and a
 * run started from a resume point has startedFrom.batch.)
 */
export const EXPORT_VERSION = 3;
/** What a document without a resume point is written as. */
export const EXPORT_VERSION_WITHOUT_RESUME_POINTS = 2;

// ── Values ───────────────────────────────────────────────────────────────────────────────────────────────────

const NON_JSON_FLOATS = ['Infinity', '-Infinity', 'NaN', '-0'] as const;
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
export const column = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

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

export type Columns = Record<string, Float[]>;

/** The document's metric tables: each one's SQL table and its column keys (read and written by export-rows.ts). */
export const METRIC_TABLES = {
  batchMetrics: { table: 'batch_metrics', keys: Object.keys(BATCH_COLUMNS) },
  epochMetrics: { table: 'epoch_metrics', keys: Object.keys(EPOCH_COLUMNS) },
  evaluations: { table: 'evaluations', keys: Object.keys(EVALUATION_COLUMNS) },
} as const;
export type MetricTable = (typeof METRIC_TABLES)[keyof typeof METRIC_TABLES];

// ── Blobs ────────────────────────────────────────────────────────────────────────────────────────────────────

export const INT32 = { width: 4, read: (v: DataView, o: number) => v.getInt32(o, true), write: (v: DataView, o: number, x: number) => v.setInt32(o, x, true) };
export const FLOAT64 = { width: 8, read: (v: DataView, o: number) => v.getFloat64(o, true), write: (v: DataView, o: number, x: number) => v.setFloat64(o, x, true) };
type Codec = typeof INT32;

/** A little-endian blob as its numbers; a length that is not a whole number of them means a damaged row. */
export function blobToNumbers(blob: Buffer, codec: Codec, where: string): number[] {
  if (blob.byteLength % codec.width !== 0) {
    throw new LabError('STORE_UNREADABLE', `${where}: ${blob.byteLength} bytes is not a whole number of ${codec.width}-byte values`, { where });
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  return Array.from({ length: blob.byteLength / codec.width }, (_, i) => codec.read(view, i * codec.width));
}

export function numbersToBlob(values: number[], codec: Codec): Buffer {
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

/** A run's resume point (resume_points): a checkpoint inside epoch `epoch` after its `batch`-th batch (ODLCKPT3). */
const ResumePointExport = z.strictObject({
  epoch: Int,
  batch: Int,
  step: Int,
  wallSeconds: z.number(),
  bytes: Int,
  createdAt: Text,
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
export const RUN_COLUMN_KEYS = Object.keys(RUN_COLUMNS) as (keyof typeof RUN_COLUMNS)[];

const RunExport = z.strictObject({
  ...RUN_COLUMNS,
  config: JsonObject,
  tags: z.array(Text),
  errorDetails: JsonObject.nullable(),
  /** The checkpoint file the run started from (train --resume); absent in documents written before it was kept. */
  startedFrom: z.strictObject({ file: Text, sha256: z.string().regex(/^[0-9a-f]{64}$/), epoch: Int, step: Int, batch: Int.optional() }).nullable().optional(),
  batchMetrics: columnar(BATCH_COLUMNS),
  epochMetrics: columnar(EPOCH_COLUMNS),
  evaluations: columnar(EVALUATION_COLUMNS),
  confusionMatrices: z.array(ConfusionExport),
  stepSizes: z.array(StepSizesExport),
  /** Present only when the export asked for checkpoints. */
  checkpoints: z.array(CheckpointExport).optional(),
  /** Present only when the export asked for checkpoints and the run has one (version 3). */
  resumePoint: ResumePointExport.optional(),
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

export const ExportDocument = z
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
