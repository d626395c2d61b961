/**
 * Per-batch and per-epoch metrics: writing batch rows together with their dashboard summaries (metric_buckets),
 * truncating them when a run resumes from an earlier checkpoint, and reading downsampled series for charts.
 *
 * metric_buckets: for each of BUCKET_COLUMNS and each level L = 1…8, bucket b summarises steps
 * b·S+1 … (b+1)·S with S = 16·4^(L−1) by the first, last, minimum and maximum (step, value) of the batch rows in
 * it (among equal values the earliest step is the minimum or maximum). Only the buckets a write touches change,
 * so a flush of 1000 rows rewrites ~63 level-1 buckets and ~25 above, however long the run is: an insert merges
 * the new rows into the stored buckets they fall in, level by level (exact: first/last/min/max are selections,
 * and an insert never replaces a stored row); a deletion or rebuild recomputes level 1 from raw rows and level L
 * from its ≤ 4 children at level L−1.
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

/** The batch_metrics columns summarised in metric_buckets (its `metric` values), in this order everywhere below. */
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
  /**
   * Points of the run's full series (before downsampling). Per-batch series read from buckets give the span of
   * steps, last − first + 1, which is the row count as a run's steps are contiguous (counting would scan them all).
   */
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
    assertStep(`rows[${i}].step`, r.step, 1);
    for (const f of ROW_FIELDS) {
      // SQLite stores NaN as NULL, which batch_metrics refuses (NOT NULL): say which value it was instead.
      if (typeof r[f] !== 'number' || Number.isNaN(r[f])) {
        throw new LabError('INVALID_ARGUMENT', `rows[${i}].${f}: expected a number (not NaN), got ${String(r[f])} (step ${r.step})`, {
          field: `rows[${i}].${f}`,
          step: r.step,
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Prepared statements, once per connection

const METRIC_LIST = BUCKET_COLUMNS.map((c) => `'${c}'`).join(', ');
const METRIC_INDEX = new Map<string, number>(BUCKET_COLUMNS.map((c, i) => [c, i]));
const AGG_COLUMNS = 'first_step, first_value, last_step, last_value, min_step, min_value, max_step, max_value';

/** (first, last, min, max) × (step, value), in metric_buckets' column order. */
type Agg = number[];
type Row = unknown[];

interface Statements {
  insertRow: Database.Statement;
  /** INSERT_GROUP rows at once: fewer calls into SQLite. */
  insertRows: Database.Statement;
  readRaw: Database.Statement;
  readBuckets: Database.Statement;
  /** The six metrics' rows of one bucket. */
  upsertBucket: Database.Statement;
  deleteBucketRange: Database.Statement;
  deleteBucketsFrom: Database.Statement;
  deleteRunBuckets: Database.Statement;
  deleteRowsAfter: Database.Statement;
  deleteStepSizesAfter: Database.Statement;
  firstStep: Database.Statement;
  lastStep: Database.Statement;
  runInfo: Database.Statement;
  readLevel: Database.Statement;
  readLevelEnds: Database.Statement;
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
    readRaw: raw(
      `SELECT step, ${BUCKET_COLUMNS.join(', ')} FROM batch_metrics WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step`,
    ),
    readBuckets: raw(
      `SELECT metric, bucket, ${AGG_COLUMNS} FROM metric_buckets
       WHERE run_id = ? AND metric IN (${METRIC_LIST}) AND level = ? AND bucket BETWEEN ? AND ?`,
    ),
    upsertBucket: db.prepare(
      `INSERT OR REPLACE INTO metric_buckets (run_id, metric, level, bucket, ${AGG_COLUMNS}) VALUES ${Array(6).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    deleteBucketRange: db.prepare(
      `DELETE FROM metric_buckets WHERE run_id = ? AND metric IN (${METRIC_LIST}) AND level = ? AND bucket BETWEEN ? AND ?`,
    ),
    deleteBucketsFrom: db.prepare(`DELETE FROM metric_buckets WHERE run_id = ? AND metric IN (${METRIC_LIST}) AND level = ? AND bucket >= ?`),
    deleteRunBuckets: db.prepare('DELETE FROM metric_buckets WHERE run_id = ?'),
    deleteRowsAfter: db.prepare('DELETE FROM batch_metrics WHERE run_id = ? AND step > ?'),
    deleteStepSizesAfter: db.prepare('DELETE FROM step_sizes WHERE run_id = ? AND step > ?'),
    firstStep: db.prepare('SELECT step FROM batch_metrics WHERE run_id = ? ORDER BY step LIMIT 1').pluck(),
    lastStep: db.prepare('SELECT step FROM batch_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1').pluck(),
    runInfo: raw('SELECT id, batches_per_epoch FROM runs WHERE id IN (SELECT value FROM json_each(?))'),
    readLevel: raw(`SELECT bucket, ${AGG_COLUMNS} FROM metric_buckets WHERE run_id = ? AND metric = ? AND level = ? ORDER BY bucket`),
    readLevelEnds: raw(`SELECT bucket, first_step, first_value, last_step, last_value FROM metric_buckets WHERE run_id = ? AND metric = ? AND level = ? ORDER BY bucket`),
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
// Buckets

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

/** Folds the point (s, v) into aggregate `a` (in place). */
function foldPoint(a: Agg, s: number, v: number): void {
  if (s < a[0]) {
    a[0] = s;
    a[1] = v;
  }
  if (s > a[2]) {
    a[2] = s;
    a[3] = v;
  }
  if (v < a[5] || (v === a[5] && s < a[4])) {
    a[4] = s;
    a[5] = v;
  }
  if (v > a[7] || (v === a[7] && s < a[6])) {
    a[6] = s;
    a[7] = v;
  }
}

/** Level-1 aggregates of raw rows [step, …BUCKET_COLUMNS] sorted by step, added to `out` by bucket. */
function aggregateRows(rows: Row[], out: Map<number, Agg[]>): void {
  let current: Agg[] = [];
  let currentBucket = -1;
  for (const row of rows) {
    const r = row as number[];
    const s = r[0];
    const b = Math.floor((s - 1) / 16);
    if (b !== currentBucket) {
      currentBucket = b;
      current = [];
      for (let m = 0; m < BUCKET_COLUMNS.length; m++) {
        const v = r[m + 1];
        current.push([s, v, s, v, s, v, s, v]);
      }
      out.set(b, current);
      continue;
    }
    for (let m = 0; m < BUCKET_COLUMNS.length; m++) foldPoint(current[m], s, r[m + 1]);
  }
}

/** Folds aggregate `c` into `a` (in place): the aggregate of the union of both bucket contents, overlapping or not. */
function mergeAgg(a: Agg, c: Agg): void {
  if (c[0] < a[0]) {
    a[0] = c[0];
    a[1] = c[1];
  }
  if (c[2] > a[2]) {
    a[2] = c[2];
    a[3] = c[3];
  }
  if (c[5] < a[5] || (c[5] === a[5] && c[4] < a[4])) {
    a[4] = c[4];
    a[5] = c[5];
  }
  if (c[7] > a[7] || (c[7] === a[7] && c[6] < a[6])) {
    a[6] = c[6];
    a[7] = c[7];
  }
}

function mergeInto(out: Map<number, Agg[]>, key: number, m: number, c: Agg): void {
  let aggs = out.get(key);
  if (!aggs) out.set(key, (aggs = []));
  if (aggs[m]) mergeAgg(aggs[m], c);
  else aggs[m] = c.slice();
}

/**
 * Folds bucket rows [metric, bucket, …AGG_COLUMNS] (any order) into `out`, keyed by bucket (`toParent` false) or
 * by parent bucket one level up (`toParent` true).
 */
function mergeBucketRows(rows: Row[], out: Map<number, Agg[]>, toParent: boolean): void {
  for (const row of rows) {
    const b = row[1] as number;
    mergeInto(out, toParent ? Math.floor(b / 4) : b, METRIC_INDEX.get(row[0] as string)!, (row as number[]).slice(2));
  }
}

/** Level-1 aggregates of new batch rows (any order), by bucket. */
function aggregateBatchRows(rows: readonly BatchRow[]): Map<number, Agg[]> {
  const out = new Map<number, Agg[]>();
  let current: Agg[] = [];
  let currentBucket = -1;
  for (const r of rows) {
    const s = r.step;
    const b = Math.floor((s - 1) / 16);
    if (b !== currentBucket) {
      currentBucket = b;
      const existing = out.get(b);
      if (!existing) {
        current = [r.loss, r.accuracy, r.nfeForward, r.nfeBackward, r.seconds, r.wallSeconds].map((v) => [s, v, s, v, s, v, s, v]);
        out.set(b, current);
        continue;
      }
      current = existing;
    }
    foldPoint(current[0], s, r.loss);
    foldPoint(current[1], s, r.accuracy);
    foldPoint(current[2], s, r.nfeForward);
    foldPoint(current[3], s, r.nfeBackward);
    foldPoint(current[4], s, r.seconds);
    foldPoint(current[5], s, r.wallSeconds);
  }
  return out;
}

function writeLevel(st: Statements, runId: number, level: number, computed: Map<number, Agg[]>): void {
  const args: unknown[] = new Array(72);
  for (const [b, aggs] of computed) {
    let o = 0;
    for (let m = 0; m < BUCKET_COLUMNS.length; m++) {
      args[o++] = runId;
      args[o++] = BUCKET_COLUMNS[m];
      args[o++] = level;
      args[o++] = b;
      const a = aggs[m];
      for (let j = 0; j < 8; j++) args[o++] = a[j];
    }
    st.upsertBucket.run(args);
  }
}

function sortedKeys(map: Map<number, unknown>): number[] {
  return [...map.keys()].sort((a, b) => a - b);
}

/**
 * Adds new rows' level-1 aggregates to the stored buckets, level by level: a bucket's aggregate over old ∪ new
 * rows is its stored aggregate merged with the new rows' (first/last/min/max are idempotent selections, so this
 * is exact; and a stored step cannot be re-inserted, so no old row is replaced). Each level reads only the stored
 * buckets the new rows fall into; level L's new aggregates are the merge of its updated children.
 */
function addToBuckets(st: Statements, runId: number, level1: Map<number, Agg[]>): void {
  let current = level1;
  for (let level = 1; level <= BUCKET_LEVELS; level++) {
    for (const [a, b] of segments(sortedKeys(current))) mergeBucketRows(st.readBuckets.all(runId, level, a, b) as Row[], current, false);
    writeLevel(st, runId, level, current);
    if (level === BUCKET_LEVELS) break;
    const parents = new Map<number, Agg[]>();
    for (const [b, aggs] of current) for (let m = 0; m < aggs.length; m++) mergeInto(parents, Math.floor(b / 4), m, aggs[m]);
    current = parents;
  }
}

/**
 * Recomputes level-1 buckets first…last from raw rows and their ancestors from their children, level by level;
 * buckets in the range left without rows are deleted. For deletions and rebuilds (insertions merge instead).
 */
function recomputeBuckets(st: Statements, runId: number, first: number, last: number): void {
  for (let level = 1; level <= BUCKET_LEVELS; level++) {
    const computed = new Map<number, Agg[]>();
    if (level === 1) aggregateRows(st.readRaw.all(runId, first * 16 + 1, (last + 1) * 16) as Row[], computed);
    else mergeBucketRows(st.readBuckets.all(runId, level - 1, first * 4, last * 4 + 3) as Row[], computed, true);
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

interface Candidate {
  step: number;
  x: number;
  y: number;
  /** Index of the bucket row it came from (bucket reads). */
  row: number;
}

/**
 * Per-batch series of `metric` for each run, at most `maxPoints` points each (M4: each run's first, last, minimum
 * and maximum points are kept exactly), on the chosen axis: 'step'; 'epoch' = step / batches per epoch (epoch e's
 * batches lie in (e−1, e]); 'wall' = training wall seconds at the step.
 *
 * Wall seconds of points read from buckets are interpolated linearly in the step between the first and last rows
 * of the point's bucket at the level read (exact at those two). The wall clock never decreases with the step, so
 * the true value lies between those two as well: |error| ≤ wall(last) − wall(first) of the point's bucket, the
 * training time of at most 16·4^(L−1) − 1 batches; on average that is 1/B of the run's wall time for the B > maxPoints/8
 * buckets read (under 0.4 % of the axis at maxPoints 2000), more for a bucket holding a long pause. Points that are
 * a bucket's first or last row, such as the run's first and last points, are exact, as are raw reads.
 */
export function batchSeries(db: Db, runIds: readonly number[], metric: BatchMetric, opts: SeriesOptions<SeriesAxis> = {}): Series[] {
  assertRunIds(runIds);
  assertOneOf('metric', metric, BATCH_METRICS);
  const axis = opts.axis ?? 'step';
  assertOneOf('axis', axis, SERIES_AXES);
  const maxPoints = opts.maxPoints ?? 2000;
  assertMaxPoints(maxPoints);
  const column = snake(metric);
  const st = statements(db);
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
      const level = plan.source === 'buckets' ? plan.level : 0;
      const buckets = level > 0 ? (st.readLevel.all(runId, column, level) as number[][]) : [];
      let points: SeriesPoint[];
      let totalPoints: number;
      if (buckets.length === 0) {
        // A short run, or (never after insertBatchRows or rebuildBuckets) rows without buckets.
        const rows = columnStatement(db, st, `SELECT step, ${column}, wall_seconds FROM batch_metrics WHERE run_id = ? ORDER BY step`).all(runId) as [
          number,
          number,
          number,
        ][];
        totalPoints = rows.length;
        const all = rows.map(([step, y, wall]) => ({ step, x: axis === 'wall' ? wall : step, y }));
        points = downsampleM4(all, maxPoints);
      } else {
        // The span, not COUNT(*) (a scan of every row): a run's steps are contiguous (the recorder writes each
        // step, deleteBatchesAfter truncates), so it is the row count.
        totalPoints = last - first + 1;
        const candidates: Candidate[] = [];
        buckets.forEach((r, row) => {
          // first ≤ min, max ≤ last in step: emit in step order without repeats.
          const [, fs, fv, ls, lv, ns, nv, xs, xv] = r;
          const lo = ns <= xs ? [ns, nv] : [xs, xv];
          const hi = ns <= xs ? [xs, xv] : [ns, nv];
          candidates.push({ step: fs, x: fs, y: fv, row });
          if (lo[0] !== fs) candidates.push({ step: lo[0], x: lo[0], y: lo[1], row });
          if (hi[0] !== lo[0]) candidates.push({ step: hi[0], x: hi[0], y: hi[1], row });
          if (ls !== hi[0]) candidates.push({ step: ls, x: ls, y: lv, row });
        });
        const kept = downsampleM4(candidates, maxPoints);
        if (axis === 'wall') {
          const wall = st.readLevelEnds.all(runId, 'wall_seconds', level) as number[][];
          points = kept.map((c) => {
            const w = wall[c.row];
            if (!w || w[0] !== buckets[c.row][0]) {
              // Never so when they are written here (all six metrics of a bucket in one statement).
              throw new LabError('STORE_UNREADABLE', `metric_buckets of run ${runId} disagree between metrics at level ${level}; rebuild them (rebuildBuckets)`, {
                runId,
                level,
              });
            }
            const [, fs, fw, ls, lw] = w;
            const x = c.step === ls ? lw : ls === fs ? fw : fw + ((lw - fw) * (c.step - fs)) / (ls - fs);
            return { step: c.step, x, y: c.y };
          });
        } else {
          points = kept.map((c) => ({ step: c.step, x: c.step, y: c.y }));
        }
      }
      if (axis === 'epoch') for (const p of points) p.x = p.step / perEpoch!;
      return { runId, points, totalPoints };
    });
  })();
}

/**
 * Per-epoch series of `metric` for each run (x: the epoch, its last step, or wall seconds at its end),
 * M4-downsampled to at most maxPoints. Epochs whose value was not a finite number (a loss stored as NULL) are left
 * out, and not counted in totalPoints.
 */
export function epochSeries(db: Db, runIds: readonly number[], metric: EpochMetric, opts: SeriesOptions<EpochAxis> = {}): Series[] {
  assertRunIds(runIds);
  assertOneOf('metric', metric, EPOCH_METRICS);
  const axis = opts.axis ?? 'epoch';
  assertOneOf('axis', axis, EPOCH_AXES);
  const maxPoints = opts.maxPoints ?? 2000;
  assertMaxPoints(maxPoints);
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
