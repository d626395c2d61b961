/**
 * Per-batch and per-epoch metrics: writing batch rows together with their dashboard summaries (metric_buckets),
 * truncating them when a run resumes from an earlier checkpoint, and reading downsampled series for charts.
 *
 * metric_buckets: at each level L = 1…8, bucket b summarises the batch rows of steps b·S+1 … (b+1)·S, with
 * S = 16·4^(L−1), in one row: the steps of its first and last rows, its row count, and for each of BUCKET_COLUMNS
 * the values at those two steps and the minimum and maximum (step, value) (among equal values the earliest step).
 * One wide row per bucket rather than one per metric: a recorder's flush writes ~90 rows instead of ~540, which
 * is what keeps inserting above 200 000 rows/s (bench/store.ts), and a series' wall-clock axis comes from the
 * rows its values come from. Only the buckets a write touches change, so a flush of 1000 rows rewrites ~63
 * level-1 buckets and ~27 above, however long the run is: an insert merges the new rows' aggregates into the
 * stored buckets they fall in, level by level (exact: the new steps are not stored yet, so the two sets of rows
 * are disjoint); a deletion or rebuild recomputes level 1 from raw rows and level L from its ≤ 4 children.
 *
 * Reading a series: a run of at most RAW_SPAN_FACTOR·maxPoints steps is read raw; a longer one reads the finest
 * level with at most maxPoints/2 buckets (see seriesPlan). Every bucket's first, minimum,
 * maximum and last points are real points of the raw series and include the run's first, last, minimum and maximum
 * points, so M4 over them (downsampleM4) keeps those exactly and shows the extent of every part of the curve.
 *
 * Functions take the Db and cache their prepared statements per connection. They never import tfjs.
 */
import type Database from 'better-sqlite3';
import { LabError } from '../../src-shared/errors';
import type { Db } from './database';
import { assertMaxPoints, downsampleM4 } from './downsample';

/** One per-batch row of a run; `step` counts batches over the whole run from 1. `wallSeconds`: training seconds since the run started. */
export interface BatchRow {
  step: number;
  epoch: number;
  batch: number;
  loss: number;
  accuracy: number;
  nfeForward: number;
  nfeBackward: number;
  seconds: number;
  wallSeconds: number;
}

/** Per-batch metrics a series can show (the batch events' names). */
export const BATCH_METRICS = ['loss', 'accuracy', 'nfeForward', 'nfeBackward', 'seconds'] as const;
export type BatchMetric = (typeof BATCH_METRICS)[number];

/** x of a per-batch series: the step, the fractional epoch (step / batches per epoch) or the training wall seconds. */
export const SERIES_AXES = ['step', 'epoch', 'wall'] as const;
export type SeriesAxis = (typeof SERIES_AXES)[number];

/** Per-epoch metrics a series can show (the epoch events' names; epoch_metrics' columns in snake_case). */
export const EPOCH_METRICS = [
  'loss',
  'accuracy',
  'testLoss',
  'testAccuracy',
  'nfeForwardMean',
  'nfeForwardMax',
  'nfeBackwardMean',
  'nfeBackwardMax',
  'stepsAccepted',
  'stepsRejected',
  'testNfeForwardMean',
  'seconds',
  'peakTensorBytes',
  'rssBytes',
] as const;
export type EpochMetric = (typeof EPOCH_METRICS)[number];

/** x of a per-epoch series: the epoch, its last step, or the training wall seconds at its end. */
export const EPOCH_AXES = ['epoch', 'step', 'wall'] as const;
export type EpochAxis = (typeof EPOCH_AXES)[number];

/** The batch_metrics columns summarised in metric_buckets (the prefixes of its per-metric columns), in this order everywhere below. */
export const BUCKET_COLUMNS = ['loss', 'accuracy', 'nfe_forward', 'nfe_backward', 'seconds', 'wall_seconds'] as const;
export const BUCKET_LEVELS = 8;
/** Steps per bucket at level 1 (16) … 8 (262 144). */
export function bucketSize(level: number): number {
  return 16 * 4 ** (level - 1);
}

/** Runs of at most this many times maxPoints steps are read raw (exact M4); longer ones read buckets. */
export const RAW_SPAN_FACTOR = 2;

export interface SeriesPoint {
  step: number;
  x: number;
  y: number;
}

export interface Series {
  runId: number;
  points: SeriesPoint[];
  /** Points of the run's full series (before downsampling); from buckets, the sum of their row counts. */
  totalPoints: number;
}

export interface SeriesOptions<A extends string> {
  axis?: A;
  /** At most this many points per run (an integer ≥ 4; default 2000). */
  maxPoints?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Names and validation

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function assertOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new LabError('INVALID_ARGUMENT', `${field}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value) ?? String(value)}`, {
      field,
      allowed: [...allowed],
      got: typeof value === 'string' ? value : String(value),
    });
  }
}

export function assertRunIds(runIds: unknown): asserts runIds is number[] {
  if (!Array.isArray(runIds) || !runIds.every((id) => Number.isSafeInteger(id))) {
    throw new LabError('INVALID_ARGUMENT', 'runIds: expected an array of integer run ids', { field: 'runIds' });
  }
}

function assertStep(field: string, step: unknown, min: number): asserts step is number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < min) {
    throw new LabError('INVALID_ARGUMENT', `${field}: expected an integer of at least ${min}, got ${String(step)}`, { field, got: String(step) });
  }
}

const ROW_FIELDS = ['epoch', 'batch', 'loss', 'accuracy', 'nfeForward', 'nfeBackward', 'seconds', 'wallSeconds'] as const;

function assertRows(rows: readonly BatchRow[]): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    // The field name is built only for the message: a flush checks thousands of rows.
    if (!Number.isSafeInteger(r.step) || r.step < 1) assertStep(`rows[${i}].step`, r.step, 1);
    for (const f of ROW_FIELDS) {
      const v = r[f];
      // SQLite stores NaN as NULL, which batch_metrics refuses (NOT NULL): say which value it was instead.
      if (typeof v !== 'number' || Number.isNaN(v)) {
        throw new LabError('INVALID_ARGUMENT', `rows[${i}].${f}: expected a number (not NaN), got ${String(v)} (step ${r.step})`, {
          field: `rows[${i}].${f}`,
          step: r.step,
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bucket aggregates
//
// A bucket's aggregate is a number[] in metric_buckets' column order after (run_id, level, bucket):
// first_step, last_step, count, then for each of BUCKET_COLUMNS its METRIC_FIELDS, so at offset o = METRICS_AT +
// FIELDS·m: o first, o+1 last, o+2 min_step, o+3 min, o+4 max_step, o+5 max. Plain arrays, not objects: a flush
// builds ~90 of them and binds each as one statement's parameters.

/** Per metric column c, the columns c_first, c_last, c_min_step, c_min, c_max_step, c_max. */
const METRIC_FIELDS = ['first', 'last', 'min_step', 'min', 'max_step', 'max'] as const;
const FIELDS = METRIC_FIELDS.length;
const FIRST_STEP = 0;
const LAST_STEP = 1;
const COUNT = 2;
const METRICS_AT = 3;
const AGG_LENGTH = METRICS_AT + FIELDS * BUCKET_COLUMNS.length;
const AGG_COLUMNS = ['first_step', 'last_step', 'count', ...BUCKET_COLUMNS.flatMap((c) => METRIC_FIELDS.map((f) => `${c}_${f}`))].join(', ');

type Agg = number[];
type Row = unknown[];

/** The aggregate of one row: `values` are its BUCKET_COLUMNS values, `at` their offset in `values`. */
function rowAgg(step: number, values: readonly number[], at: number): Agg {
  const a: Agg = new Array<number>(AGG_LENGTH);
  a[FIRST_STEP] = step;
  a[LAST_STEP] = step;
  a[COUNT] = 1;
  for (let m = 0, o = METRICS_AT; m < BUCKET_COLUMNS.length; m++, o += FIELDS) {
    const v = values[at + m];
    a[o] = v; // first
    a[o + 1] = v; // last
    a[o + 2] = step; // min_step
    a[o + 3] = v; // min
    a[o + 4] = step; // max_step
    a[o + 5] = v; // max
  }
  return a;
}

/**
 * Folds aggregate `c` into `a` (in place): the aggregate of the union of both buckets' rows, which must be
 * disjoint (count adds up). Among equal values the earlier step is the minimum or maximum.
 */
function mergeAgg(a: Agg, c: Agg): void {
  const takeFirst = c[FIRST_STEP] < a[FIRST_STEP];
  const takeLast = c[LAST_STEP] > a[LAST_STEP];
  if (takeFirst) a[FIRST_STEP] = c[FIRST_STEP];
  if (takeLast) a[LAST_STEP] = c[LAST_STEP];
  a[COUNT] += c[COUNT];
  for (let o = METRICS_AT; o < AGG_LENGTH; o += FIELDS) {
    if (takeFirst) a[o] = c[o];
    if (takeLast) a[o + 1] = c[o + 1];
    if (c[o + 3] < a[o + 3] || (c[o + 3] === a[o + 3] && c[o + 2] < a[o + 2])) {
      a[o + 2] = c[o + 2];
      a[o + 3] = c[o + 3];
    }
    if (c[o + 5] > a[o + 5] || (c[o + 5] === a[o + 5] && c[o + 4] < a[o + 4])) {
      a[o + 4] = c[o + 4];
      a[o + 5] = c[o + 5];
    }
  }
}

/** Merges `c` into out[key], or stores a copy of it there (so `c` is never changed through `out`). */
function mergeInto(out: Map<number, Agg>, key: number, c: Agg): void {
  const a = out.get(key);
  if (a) mergeAgg(a, c);
  else out.set(key, c.slice());
}

/** Folds one row (step, values[at…at+5]) into aggregate `a` (in place); the step must not be in `a` yet. */
function foldRow(a: Agg, step: number, values: readonly number[], at: number): void {
  const isFirst = step < a[FIRST_STEP];
  const isLast = step > a[LAST_STEP];
  if (isFirst) a[FIRST_STEP] = step;
  if (isLast) a[LAST_STEP] = step;
  a[COUNT]++;
  for (let m = 0, o = METRICS_AT; m < BUCKET_COLUMNS.length; m++, o += FIELDS) {
    const v = values[at + m];
    if (isFirst) a[o] = v;
    if (isLast) a[o + 1] = v;
    if (v < a[o + 3] || (v === a[o + 3] && step < a[o + 2])) {
      a[o + 2] = step;
      a[o + 3] = v;
    }
    if (v > a[o + 5] || (v === a[o + 5] && step < a[o + 4])) {
      a[o + 4] = step;
      a[o + 5] = v;
    }
  }
}

/** Folds one row into its level-1 bucket's aggregate in `out`. */
function addRow(out: Map<number, Agg>, step: number, values: readonly number[], at: number): void {
  const b = Math.floor((step - 1) / 16);
  const a = out.get(b);
  if (a) foldRow(a, step, values, at);
  else out.set(b, rowAgg(step, values, at));
}

/** Level-1 aggregates of new batch rows (any order, distinct steps), by bucket. */
function aggregateBatchRows(rows: readonly BatchRow[]): Map<number, Agg> {
  const out = new Map<number, Agg>();
  const values = new Array<number>(BUCKET_COLUMNS.length);
  for (const r of rows) {
    values[0] = r.loss;
    values[1] = r.accuracy;
    values[2] = r.nfeForward;
    values[3] = r.nfeBackward;
    values[4] = r.seconds;
    values[5] = r.wallSeconds;
    addRow(out, r.step, values, 0);
  }
  return out;
}

/** Level-1 aggregates of raw rows [step, …BUCKET_COLUMNS values] (readRaw's), by bucket. */
function aggregateRawRows(rows: Row[]): Map<number, Agg> {
  const out = new Map<number, Agg>();
  for (const row of rows) addRow(out, row[0] as number, row as number[], 1);
  return out;
}

/** The aggregates one level up of the given buckets: each parent merges the children given (up to 4). */
function parentsOf(children: Map<number, Agg>): Map<number, Agg> {
  const parents = new Map<number, Agg>();
  for (const [b, a] of children) mergeInto(parents, Math.floor(b / 4), a);
  return parents;
}

// ---------------------------------------------------------------------------------------------------------------
// Prepared statements, once per connection

interface Statements {
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
const INSERT_GROUP = 16;

function statements(db: Db): Statements {
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

function columnStatement(db: Db, st: Statements, sql: string): Database.Statement {
  let s = st.byColumn.get(sql);
  if (!s) {
    s = db.prepare(sql).raw(true);
    st.byColumn.set(sql, s);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing buckets

/** [a, b] ranges of consecutive values in a sorted list of distinct integers. */
function segments(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last && v === last[1] + 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

function sortedKeys(map: Map<number, unknown>): number[] {
  return [...map.keys()].sort((a, b) => a - b);
}

/** Adds the stored aggregates of a level's buckets a…b to `out`, by bucket. */
function readRange(st: Statements, runId: number, level: number, a: number, b: number, out: Map<number, Agg>): void {
  for (const row of st.readBuckets.all(runId, level, a, b) as number[][]) out.set(row[0], row.slice(1));
}

/** The stored aggregates of a level's buckets among `keys` (sorted), a run of consecutive keys per read. */
function readStored(st: Statements, runId: number, level: number, keys: readonly number[]): Map<number, Agg> {
  const out = new Map<number, Agg>();
  for (const [a, b] of segments(keys)) readRange(st, runId, level, a, b, out);
  return out;
}

function writeLevel(st: Statements, runId: number, level: number, buckets: Map<number, Agg>): void {
  const args: number[] = new Array<number>(3 + AGG_LENGTH);
  args[0] = runId;
  args[1] = level;
  for (const [b, a] of buckets) {
    args[2] = b;
    for (let j = 0; j < AGG_LENGTH; j++) args[3 + j] = a[j];
    st.writeBucket.run(args);
  }
}

/**
 * Adds new rows to the stored buckets, level by level: a bucket over old ∪ new rows is its stored aggregate
 * merged with the new rows' (exact: a stored step cannot be inserted again, so the two are disjoint). Only the
 * new rows' aggregates travel up the levels — merging stored parents with updated children would count the
 * children's old rows twice.
 */
function addToBuckets(st: Statements, runId: number, level1: Map<number, Agg>): void {
  let added = level1;
  for (let level = 1; level <= BUCKET_LEVELS; level++) {
    const up = level < BUCKET_LEVELS ? parentsOf(added) : null;
    const keys = sortedKeys(added);
    for (const [b, stored] of readStored(st, runId, level, keys)) mergeAgg(added.get(b)!, stored);
    writeLevel(st, runId, level, added);
    if (!up) break;
    added = up;
  }
}

/**
 * Recomputes level-1 buckets first…last from raw rows and their ancestors from their (complete) children,
 * level by level; buckets in the range left without rows are deleted. For deletions and rebuilds (insertions
 * merge instead).
 */
function recomputeBuckets(st: Statements, runId: number, first: number, last: number): void {
  for (let level = 1; level <= BUCKET_LEVELS; level++) {
    let computed: Map<number, Agg>;
    if (level === 1) {
      computed = aggregateRawRows(st.readRaw.all(runId, first * 16 + 1, (last + 1) * 16) as Row[]);
    } else {
      const children = new Map<number, Agg>();
      readRange(st, runId, level - 1, first * 4, last * 4 + 3, children);
      computed = parentsOf(children);
    }
    st.deleteBucketRange.run(runId, level, first, last);
    writeLevel(st, runId, level, computed);
    first = Math.floor(first / 4);
    last = Math.floor(last / 4);
  }
}

/**
 * Inserts batch rows (any number, any order; steps not yet stored — a stored step is a primary-key error) and
 * brings the run's metric_buckets up to date for the steps they touch, in one transaction (a savepoint inside
 * the caller's).
 */
export function insertBatchRows(db: Db, runId: number, rows: readonly BatchRow[]): void {
  assertStep('runId', runId, 1);
  if (rows.length === 0) return;
  assertRows(rows);
  const st = statements(db);
  db.transaction(() => {
    const args: unknown[] = new Array(INSERT_GROUP * 10);
    let i = 0;
    for (; i + INSERT_GROUP <= rows.length; i += INSERT_GROUP) {
      for (let k = 0, o = 0; k < INSERT_GROUP; k++) {
        const r = rows[i + k];
        args[o++] = runId;
        args[o++] = r.step;
        args[o++] = r.epoch;
        args[o++] = r.batch;
        args[o++] = r.loss;
        args[o++] = r.accuracy;
        args[o++] = r.nfeForward;
        args[o++] = r.nfeBackward;
        args[o++] = r.seconds;
        args[o++] = r.wallSeconds;
      }
      st.insertRows.run(args);
    }
    for (; i < rows.length; i++) {
      const r = rows[i];
      st.insertRow.run(runId, r.step, r.epoch, r.batch, r.loss, r.accuracy, r.nfeForward, r.nfeBackward, r.seconds, r.wallSeconds);
    }
    addToBuckets(st, runId, aggregateBatchRows(rows));
  })();
}

/**
 * Deletes the run's batch rows and step sizes after `step` (0: all of them) and fixes its buckets: those wholly
 * after `step` are deleted, those straddling it recomputed. For resuming a run from an earlier checkpoint.
 */
export function deleteBatchesAfter(db: Db, runId: number, step: number): void {
  assertStep('runId', runId, 1);
  assertStep('step', step, 0);
  const st = statements(db);
  db.transaction(() => {
    st.deleteRowsAfter.run(runId, step);
    st.deleteStepSizesAfter.run(runId, step);
    for (let level = 1; level <= BUCKET_LEVELS; level++) st.deleteBucketsFrom.run(runId, level, Math.ceil(step / bucketSize(level)));
    if (step >= 1) recomputeBuckets(st, runId, Math.floor((step - 1) / 16), Math.floor((step - 1) / 16));
  })();
}

/** Rebuilds all of a run's buckets from its batch_metrics (after an import), 65 536 steps at a time. */
export function rebuildBuckets(db: Db, runId: number): void {
  assertStep('runId', runId, 1);
  const st = statements(db);
  db.transaction(() => {
    st.deleteRunBuckets.run(runId);
    const first = st.firstStep.get(runId) as number | undefined;
    const last = st.lastStep.get(runId) as number | undefined;
    if (first === undefined || last === undefined) return;
    const chunk = bucketSize(7) / 16; // level-1 buckets per pass
    for (let b = Math.floor((first - 1) / 16); b <= Math.floor((last - 1) / 16); b += chunk) {
      recomputeBuckets(st, runId, b, Math.min(b + chunk - 1, Math.floor((last - 1) / 16)));
    }
  })();
}

// ---------------------------------------------------------------------------------------------------------------
// Series

/**
 * How batchSeries reads a run whose steps span firstStep…lastStep: raw rows when there are at most
 * RAW_SPAN_FACTOR·maxPoints, else the finest bucket level with at most maxPoints/2 buckets (level 8 at most).
 * Either way the output has at least half the ⌊maxPoints/4⌋ M4 groups of a raw-row M4 (a level with B buckets
 * gives min(B, maxPoints/4) groups, and B > maxPoints/8), while a read costs at most 2·maxPoints raw rows or
 * maxPoints/2 bucket rows (a bucket row costs about as much to read as a raw row).
 */
export function seriesPlan(firstStep: number, lastStep: number, maxPoints: number): { source: 'raw' } | { source: 'buckets'; level: number } {
  if (lastStep - firstStep + 1 <= RAW_SPAN_FACTOR * maxPoints) return { source: 'raw' };
  for (let level = 1; level < BUCKET_LEVELS; level++) {
    const size = bucketSize(level);
    if (Math.floor((lastStep - 1) / size) - Math.floor((firstStep - 1) / size) + 1 <= maxPoints / 2) return { source: 'buckets', level };
  }
  return { source: 'buckets', level: BUCKET_LEVELS };
}

function runInfo(st: Statements, runIds: readonly number[]): Map<number, number | null> {
  const info = new Map<number, number | null>();
  for (const [id, bpe] of st.runInfo.all(JSON.stringify(runIds)) as [number, number | null][]) info.set(id, bpe);
  for (const id of runIds) {
    if (!info.has(id)) throw new LabError('NOT_FOUND', `run ${id} does not exist in this database`, { runId: id });
  }
  return info;
}

/** A bucket row as batchSeries reads it: one metric's columns, and the wall clock's at the first and last steps. */
type LevelRow = [
  bucket: number,
  firstStep: number,
  lastStep: number,
  count: number,
  first: number,
  last: number,
  minStep: number,
  min: number,
  maxStep: number,
  max: number,
  wallFirst: number,
  wallLast: number,
];

interface Candidate {
  step: number;
  /** The step: M4 groups points by count, whatever the axis. */
  x: number;
  y: number;
  /** Index of the bucket row it came from. */
  row: number;
}

/** A run's rows on the chosen axis (read raw: short runs, or rows without buckets), M4-downsampled. */
function rawSeries(db: Db, st: Statements, runId: number, column: string, axis: SeriesAxis, maxPoints: number): Series {
  const rows = columnStatement(db, st, `SELECT step, ${column}, wall_seconds FROM batch_metrics WHERE run_id = ? ORDER BY step`).all(runId) as [
    number,
    number,
    number,
  ][];
  const all = rows.map(([step, y, wall]) => ({ step, x: axis === 'wall' ? wall : step, y }));
  return { runId, points: downsampleM4(all, maxPoints), totalPoints: rows.length };
}

/** Each bucket's first, minimum, maximum and last points, in step order without repeats. */
function bucketCandidates(buckets: readonly LevelRow[]): Candidate[] {
  const out: Candidate[] = [];
  buckets.forEach(([, firstStep, lastStep, , first, last, minStep, min, maxStep, max], row) => {
    // first ≤ min, max ≤ last in step.
    const [loStep, lo, hiStep, hi] = minStep <= maxStep ? [minStep, min, maxStep, max] : [maxStep, max, minStep, min];
    out.push({ step: firstStep, x: firstStep, y: first, row });
    if (loStep !== firstStep) out.push({ step: loStep, x: loStep, y: lo, row });
    if (hiStep !== loStep) out.push({ step: hiStep, x: hiStep, y: hi, row });
    if (lastStep !== hiStep) out.push({ step: lastStep, x: lastStep, y: last, row });
  });
  return out;
}

/** Wall seconds at `step` of bucket row r: interpolated linearly between its first and last rows, exact at those. */
function wallAt(step: number, r: LevelRow): number {
  const [, firstStep, lastStep, , , , , , , , wallFirst, wallLast] = r;
  if (step === lastStep) return wallLast;
  if (lastStep === firstStep) return wallFirst;
  return wallFirst + ((wallLast - wallFirst) * (step - firstStep)) / (lastStep - firstStep);
}

/** A run's series from the bucket rows of one level; totalPoints sums their row counts. */
function bucketSeries(runId: number, buckets: readonly LevelRow[], axis: SeriesAxis, maxPoints: number): Series {
  let totalPoints = 0;
  for (const [, , , count] of buckets) totalPoints += count;
  const kept = downsampleM4(bucketCandidates(buckets), maxPoints);
  const points = kept.map((c) => ({ step: c.step, x: axis === 'wall' ? wallAt(c.step, buckets[c.row]) : c.step, y: c.y }));
  return { runId, points, totalPoints };
}

/**
 * Per-batch series of `metric` for each run, at most `maxPoints` points each (M4: each run's first, last, minimum
 * and maximum points are kept exactly), on the chosen axis: 'step'; 'epoch' = step / batches per epoch (epoch e's
 * batches lie in (e−1, e]); 'wall' = training wall seconds at the step. totalPoints is the run's row count.
 *
 * Wall seconds of points read from buckets are interpolated linearly in the step between the first and last rows
 * of the point's bucket at the level read (exact at those two). The wall clock never decreases with the step, so
 * the true value lies between those two as well: |error| ≤ wall(last) − wall(first) of the point's bucket, the
 * training time of at most 16·4^(L−1) − 1 batches; on average that is 1/B of the run's wall time for the B > maxPoints/8
 * buckets read (under 0.4 % of the axis at maxPoints 2000), more for a bucket holding a long pause. Points that are
 * a bucket's first or last row, such as the run's first and last points, are exact, as are raw reads.
 */
/** A series request's arguments checked (they arrive from IPC and HTTP payloads), defaults filled in. */
function seriesRequest<M extends string, A extends string>(
  runIds: readonly number[],
  metric: M,
  metrics: readonly M[],
  opts: SeriesOptions<A>,
  axes: readonly A[],
): { axis: A; maxPoints: number } {
  assertRunIds(runIds);
  assertOneOf('metric', metric, metrics);
  const axis = opts.axis ?? axes[0];
  assertOneOf('axis', axis, axes);
  const maxPoints = opts.maxPoints ?? 2000;
  assertMaxPoints(maxPoints);
  return { axis, maxPoints };
}

export function batchSeries(db: Db, runIds: readonly number[], metric: BatchMetric, opts: SeriesOptions<SeriesAxis> = {}): Series[] {
  const { axis, maxPoints } = seriesRequest(runIds, metric, BATCH_METRICS, opts, SERIES_AXES);
  const column = snake(metric);
  const st = statements(db);
  // LevelRows: the metric's columns and the wall clock's, so a point's wall seconds need no second read.
  const readLevel = columnStatement(
    db,
    st,
    `SELECT bucket, first_step, last_step, count, ${METRIC_FIELDS.map((f) => `${column}_${f}`).join(', ')}, wall_seconds_first, wall_seconds_last
     FROM metric_buckets WHERE run_id = ? AND level = ? ORDER BY bucket`,
  );
  // One read transaction: every run's rows and buckets come from the same committed state.
  return db.transaction(() => {
    const info = runInfo(st, runIds);
    return runIds.map((runId): Series => {
      const first = st.firstStep.get(runId) as number | undefined;
      const last = st.lastStep.get(runId) as number | undefined;
      if (first === undefined || last === undefined) return { runId, points: [], totalPoints: 0 };
      const perEpoch = info.get(runId) ?? null;
      if (axis === 'epoch' && !perEpoch) {
        throw new LabError('INVALID_ARGUMENT', `axis: run ${runId} does not record its batches per epoch, so its steps cannot be shown in epochs; use 'step' or 'wall'`, {
          field: 'axis',
          runId,
        });
      }
      const plan = seriesPlan(first, last, maxPoints);
      const buckets = plan.source === 'buckets' ? (readLevel.all(runId, plan.level) as LevelRow[]) : [];
      // A short run, or (never after insertBatchRows or rebuildBuckets) rows without buckets.
      const series = buckets.length === 0 ? rawSeries(db, st, runId, column, axis, maxPoints) : bucketSeries(runId, buckets, axis, maxPoints);
      if (axis === 'epoch') for (const p of series.points) p.x = p.step / perEpoch!;
      return series;
    });
  })();
}

/**
 * Per-epoch series of `metric` for each run (x: the epoch, its last step, or wall seconds at its end),
 * M4-downsampled to at most maxPoints. Epochs whose value was not a finite number (a loss stored as NULL) are left
 * out, and not counted in totalPoints.
 */
export function epochSeries(db: Db, runIds: readonly number[], metric: EpochMetric, opts: SeriesOptions<EpochAxis> = {}): Series[] {
  const { axis, maxPoints } = seriesRequest(runIds, metric, EPOCH_METRICS, opts, EPOCH_AXES);
  const xColumn = axis === 'wall' ? 'wall_seconds' : axis;
  const st = statements(db);
  const select = columnStatement(db, st, `SELECT step, ${xColumn}, ${snake(metric)} FROM epoch_metrics WHERE run_id = ? ORDER BY epoch`);
  return db.transaction(() => {
    runInfo(st, runIds);
    return runIds.map((runId): Series => {
      const rows = select.all(runId) as [number, number, number | null][];
      const all: SeriesPoint[] = [];
      for (const [step, x, y] of rows) if (y !== null) all.push({ step, x, y });
      return { runId, points: downsampleM4(all, maxPoints), totalPoints: all.length };
    });
  })();
}
