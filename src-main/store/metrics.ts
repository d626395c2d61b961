/**
 * Per-batch metrics written: batch rows together with their dashboard summaries (metric_buckets, see
 * metric-buckets.ts), truncated when a run resumes from an earlier checkpoint and rebuilt after an import. Reading
 * them back as series for charts is metric-series.ts.
 *
 * Only the buckets a write touches change, so a flush of 1000 rows rewrites ~63 level-1 buckets and ~27 above,
 * however long the run is: an insert merges the new rows' aggregates into the stored buckets they fall in, level by
 * level (exact: the new steps are not stored yet, so the two sets of rows are disjoint); a deletion or rebuild
 * recomputes level 1 from raw rows and level L from its ≤ 4 children.
 *
 * Functions take the Db and cache their prepared statements per connection (metric-statements.ts). They never import tfjs.
 */
import type { Db } from './database';
import { aggregateBatchRows, aggregateRawRows, AGG_LENGTH, BUCKET_LEVELS, bucketSize, LEVEL1_STEPS, mergeAgg, parentsOf, type Agg, type RawRow } from './metric-buckets';
import { assertRows, assertStep, type BatchRow } from './metric-inputs';
import { INSERT_GROUP, statements, type Statements } from './metric-statements';

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
      computed = aggregateRawRows(st.readRaw.all(runId, first * LEVEL1_STEPS + 1, (last + 1) * LEVEL1_STEPS) as RawRow[]);
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
    if (step >= 1) recomputeBuckets(st, runId, Math.floor((step - 1) / LEVEL1_STEPS), Math.floor((step - 1) / LEVEL1_STEPS));
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
    const chunk = bucketSize(7) / LEVEL1_STEPS; // level-1 buckets per pass
    for (let b = Math.floor((first - 1) / LEVEL1_STEPS); b <= Math.floor((last - 1) / LEVEL1_STEPS); b += chunk) {
      recomputeBuckets(st, runId, b, Math.min(b + chunk - 1, Math.floor((last - 1) / LEVEL1_STEPS)));
    }
  })();
}
