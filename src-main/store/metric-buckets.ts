/**
 * metric_buckets, the dashboard summaries of a run's batch rows, and the pure aggregation that computes them (no
 * SQLite here: metrics.ts reads and writes the buckets).
 *
 * metric_buckets: at each level L = 1…8, bucket b summarises the batch rows of steps b·S+1 … (b+1)·S, with
 * S = 16·4^(L−1), in one row: the steps of its first and last rows, its row count, and for each of BUCKET_COLUMNS
 * the values at those two steps and the minimum and maximum (step, value) (among equal values the earliest step).
 * One wide row per bucket rather than one per metric: a recorder's flush writes ~90 rows instead of ~540, which
 * is what keeps inserting above 200 000 rows/s (bench/store.ts), and a series' wall-clock axis comes from the
 * rows its values come from.
 */
import type { BatchRow } from './metric-inputs';

/** The batch_metrics columns summarised in metric_buckets (the prefixes of its per-metric columns), in this order everywhere. */
export const BUCKET_COLUMNS = ['loss', 'accuracy', 'nfe_forward', 'nfe_backward', 'seconds', 'wall_seconds'] as const;
export const BUCKET_LEVELS = 8;
/** Steps per level-1 bucket: level L's buckets hold LEVEL1_STEPS·4^(L−1) steps. */
export const LEVEL1_STEPS = 16;

/** Steps per bucket at level 1 (16) … 8 (262 144). */
export function bucketSize(level: number): number {
  return LEVEL1_STEPS * 4 ** (level - 1);
}

// A bucket's aggregate is a number[] in metric_buckets' column order after (run_id, level, bucket):
// first_step, last_step, count, then for each of BUCKET_COLUMNS its METRIC_FIELDS, so at offset o = METRICS_AT +
// FIELDS·m: o first, o+1 last, o+2 min_step, o+3 min, o+4 max_step, o+5 max. Plain arrays, not objects: a flush
// builds ~90 of them and binds each as one statement's parameters.

/** Per metric column c, the columns c_first, c_last, c_min_step, c_min, c_max_step, c_max. */
export const METRIC_FIELDS = ['first', 'last', 'min_step', 'min', 'max_step', 'max'] as const;
const FIELDS = METRIC_FIELDS.length;
const FIRST_STEP = 0;
const LAST_STEP = 1;
const COUNT = 2;
const METRICS_AT = 3;
export const AGG_LENGTH = METRICS_AT + FIELDS * BUCKET_COLUMNS.length;
export const AGG_COLUMNS = ['first_step', 'last_step', 'count', ...BUCKET_COLUMNS.flatMap((c) => METRIC_FIELDS.map((f) => `${c}_${f}`))].join(', ');

export type Agg = number[];
/** A batch_metrics row as metrics.ts reads it raw: [step, …BUCKET_COLUMNS values]. */
export type RawRow = unknown[];

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
export function mergeAgg(a: Agg, c: Agg): void {
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
  const b = Math.floor((step - 1) / LEVEL1_STEPS);
  const a = out.get(b);
  if (a) foldRow(a, step, values, at);
  else out.set(b, rowAgg(step, values, at));
}

/** Level-1 aggregates of new batch rows (any order, distinct steps), by bucket. */
export function aggregateBatchRows(rows: readonly BatchRow[]): Map<number, Agg> {
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
export function aggregateRawRows(rows: RawRow[]): Map<number, Agg> {
  const out = new Map<number, Agg>();
  for (const row of rows) addRow(out, row[0] as number, row as number[], 1);
  return out;
}

/** The aggregates one level up of the given buckets: each parent merges the children given (up to 4). */
export function parentsOf(children: Map<number, Agg>): Map<number, Agg> {
  const parents = new Map<number, Agg>();
  for (const [b, a] of children) mergeInto(parents, Math.floor(b / 4), a);
  return parents;
}
