/**
 * Per-batch and per-epoch metrics read back as downsampled series for charts.
 *
 * Reading a series: a run of at most RAW_SPAN_FACTOR·maxPoints steps is read raw; a longer one reads the finest
 * metric_buckets level with at most maxPoints/2 buckets (see seriesPlan). Every bucket's first, minimum, maximum and
 * last points are real points of the raw series and include the run's first, last, minimum and maximum points, so
 * M4 over them (downsampleM4) keeps those exactly and shows the extent of every part of the curve.
 *
 * Functions take the Db and cache their prepared statements per connection (metric-statements.ts). They never import tfjs.
 */
import { LabError } from '../../src-shared/errors';
import type { Db } from './database';
import { assertMaxPoints, downsampleM4 } from './downsample';
import { BUCKET_LEVELS, bucketSize, METRIC_FIELDS } from './metric-buckets';
import { assertOneOf, assertRunIds } from './metric-inputs';
import { columnStatement, statements, type Statements } from './metric-statements';

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

/** A metric's name as its column's: nfeForward → nfe_forward. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

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

/** Each run's batches per epoch (null if not recorded), by run id; NOT_FOUND for an id with no run. */
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
