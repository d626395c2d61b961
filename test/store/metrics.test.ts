/**
 * Per-batch rows and their bucket summaries against a brute-force recomputation, downsampled series, per-epoch
 * series, final/best figures, argument validation, and a reader on a second connection while a writer inserts.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { isLabError } from '../../src-shared/errors';
import { openDatabase, type Db } from '../../src-main/store/database';
import { downsampleM4 } from '../../src-main/store/downsample';
import { BUCKET_COLUMNS, BUCKET_LEVELS, bucketSize } from '../../src-main/store/metric-buckets';
import type { BatchRow } from '../../src-main/store/metric-inputs';
import { BATCH_METRICS, batchSeries, epochSeries, seriesPlan } from '../../src-main/store/metric-series';
import { deleteBatchesAfter, insertBatchRows, rebuildBuckets } from '../../src-main/store/metrics';
import { finalAndBest } from '../../src-main/store/outcomes';
import { freshDb, insertRunRow, tempDbPath } from './fixtures';
import { createRng } from '../../src-main/data/shapes/rng';

/** Seeded, so every run draws the same numbers: the project's PRNG (sfc32, as the shapes generator uses). */
const prng = (seed: number): (() => number) => createRng(seed).next;

/**
 * Rows for steps (sorted), as a run reports them: values with many ties (accuracy in 1/120ths, integer NFE,
 * quantised loss) and a wall clock that never goes back, with the odd long pause.
 */
function makeRows(steps: number[], rand: () => number, perEpoch = 100, wallStart = 0): BatchRow[] {
  let wall = wallStart;
  return steps.map((step) => {
    wall += 0.05 + rand() * 0.2 + (rand() < 0.002 ? 30 : 0);
    return {
      step,
      epoch: Math.ceil(step / perEpoch),
      batch: ((step - 1) % perEpoch) + 1,
      loss: Math.round((2 * Math.exp(-step / 20_000) + rand() * 0.5) * 64) / 64,
      accuracy: Math.floor(rand() * 121) / 120,
      nfeForward: 14 + Math.floor(rand() * 8),
      nfeBackward: 20 + Math.floor(rand() * 10),
      seconds: 0.05 + rand() * 0.2,
      wallSeconds: wall,
    };
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

const ROW_KEY: Record<(typeof BUCKET_COLUMNS)[number], keyof BatchRow> = {
  loss: 'loss',
  accuracy: 'accuracy',
  nfe_forward: 'nfeForward',
  nfe_backward: 'nfeBackward',
  seconds: 'seconds',
  wall_seconds: 'wallSeconds',
};

/** Per metric column c: c_first, c_last, c_min_step, c_min, c_max_step, c_max (the schema's order). */
const AGG_COLUMNS = ['first_step', 'last_step', 'count', ...BUCKET_COLUMNS.flatMap((c) => ['first', 'last', 'min_step', 'min', 'max_step', 'max'].map((f) => `${c}_${f}`))];

/**
 * Every bucket of every level, from the raw rows, by 'level/bucket': first step, last step, row count, then per
 * metric its values at the first and last steps and its earliest minimum and maximum (step, value).
 */
function bruteBuckets(rows: readonly BatchRow[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const sorted = [...rows].sort((a, b) => a.step - b.step);
  for (let level = 1; level <= BUCKET_LEVELS; level++) {
    for (const r of sorted) {
      const s = r.step;
      const key = `${level}/${Math.floor((s - 1) / bucketSize(level))}`;
      const a = out.get(key);
      if (!a) {
        out.set(key, [s, s, 1, ...BUCKET_COLUMNS.flatMap((metric) => [r[ROW_KEY[metric]], r[ROW_KEY[metric]], s, r[ROW_KEY[metric]], s, r[ROW_KEY[metric]]])]);
        continue;
      }
      a[1] = s;
      a[2]++;
      BUCKET_COLUMNS.forEach((metric, m) => {
        const o = 3 + 6 * m;
        const v = r[ROW_KEY[metric]];
        a[o + 1] = v;
        if (v < a[o + 3]) [a[o + 2], a[o + 3]] = [s, v];
        if (v > a[o + 5]) [a[o + 4], a[o + 5]] = [s, v];
      });
    }
  }
  return out;
}

function storedBuckets(db: Db, runId: number): Map<string, number[]> {
  const rows = db
    .prepare(`SELECT level, bucket, ${AGG_COLUMNS.join(', ')} FROM metric_buckets WHERE run_id = ?`)
    .raw(true)
    .all(runId) as [number, number, ...number[]][];
  return new Map(rows.map(([level, bucket, ...agg]) => [`${level}/${bucket}`, agg]));
}

/** The buckets that differ from a brute-force recomputation (at most 5, for the message). */
function bucketMismatches(db: Db, runId: number, rows: readonly BatchRow[]): string[] {
  const want = bruteBuckets(rows);
  const got = storedBuckets(db, runId);
  const problems: string[] = [];
  for (const [key, agg] of want) {
    const g = got.get(key);
    if (!g) problems.push(`${key} missing`);
    else if (g.some((v, i) => v !== agg[i])) problems.push(`${key}: stored ${g.join(',')} expected ${agg.join(',')}`);
  }
  for (const key of got.keys()) if (!want.has(key)) problems.push(`${key} should not exist`);
  return problems.slice(0, 5);
}

function storedRows(db: Db, runId: number): number {
  return db.prepare('SELECT COUNT(*) FROM batch_metrics WHERE run_id = ?').pluck().get(runId) as number;
}

/** Chunk sizes from 1 to `max`, log-uniform: many small flushes and a few big ones. */
function chunked<T>(items: readonly T[], rand: () => number, max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const n = Math.max(1, Math.floor(Math.exp(rand() * Math.log(max + 1))));
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

function caught(work: () => unknown): Error {
  try {
    work();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('insertBatchRows keeps metric_buckets equal to a recomputation from the rows', () => {
  it.each([1, 15, 16, 17, 1000, 70_000])('%i rows inserted in random chunk sizes', (n) => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rand = prng(n);
    const rows = makeRows(range(1, n), rand);
    for (const chunk of chunked(rows, rand, n < 100 ? n : 3000)) insertBatchRows(db, runId, chunk);
    expect(storedRows(db, runId)).toBe(n);
    expect(bucketMismatches(db, runId, rows)).toEqual([]);
    db.close();
  });

  it('whatever order and gaps the rows arrive in, one run beside another', () => {
    const db = freshDb();
    const [runA, runB] = [insertRunRow(db), insertRunRow(db)];
    const rand = prng(7);
    const steps = range(1, 5000).filter(() => rand() > 0.1);
    const rows = makeRows(steps, rand);
    const chunks = chunked(rows, rand, 400).map((c) => c.sort(() => rand() - 0.5));
    chunks.sort(() => rand() - 0.5);
    const other = makeRows(range(1, 300), rand);
    insertBatchRows(db, runB, other);
    for (const chunk of chunks) insertBatchRows(db, runA, chunk);
    expect(bucketMismatches(db, runA, rows)).toEqual([]);
    expect(bucketMismatches(db, runB, other)).toEqual([]);
    // Read from buckets, a run with gaps still reports its exact row count (the buckets' counts).
    expect(seriesPlan(rows[0].step, rows.at(-1)!.step, 100).source).toBe('buckets');
    const [series] = batchSeries(db, [runA], 'loss', { maxPoints: 100 });
    expect(series.totalPoints).toBe(rows.length);
    expect(series.totalPoints).toBeLessThan(rows.at(-1)!.step - rows[0].step + 1);
    db.close();
  });

  it('refuses a stored step as a whole: nothing of the flush is kept', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rows = makeRows(range(1, 100), prng(8));
    insertBatchRows(db, runId, rows.slice(0, 50));
    expect(() => insertBatchRows(db, runId, rows.slice(40))).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(storedRows(db, runId)).toBe(50);
    expect(bucketMismatches(db, runId, rows.slice(0, 50))).toEqual([]);
    db.close();
  });

  it('joins the caller’s transaction (rolled back with it)', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rows = makeRows(range(1, 40), prng(9));
    expect(() =>
      db.transaction(() => {
        insertBatchRows(db, runId, rows);
        throw new Error('caller failed');
      })(),
    ).toThrow('caller failed');
    expect(storedRows(db, runId)).toBe(0);
    expect(storedBuckets(db, runId).size).toBe(0);
    db.close();
  });

  it('names a value SQLite cannot store, or a bad step, with INVALID_ARGUMENT', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rows = makeRows(range(1, 3), prng(10));
    const e = caught(() => insertBatchRows(db, runId, [rows[0], { ...rows[1], loss: Number.NaN }]));
    expect(isLabError(e, 'INVALID_ARGUMENT')).toBe(true);
    expect(e.message).toBe('INVALID_ARGUMENT: rows[1].loss: expected a number (not NaN), got NaN (step 2)');
    expect(caught(() => insertBatchRows(db, runId, [{ ...rows[0], step: 0 }])).message).toMatch(/rows\[0\]\.step: expected an integer of at least 1/);
    expect(storedRows(db, runId)).toBe(0);
    db.close();
  });
});

describe('deleteBatchesAfter and rebuildBuckets', () => {
  it('truncates rows, step sizes and buckets at any step, and a resumed run continues from there', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rand = prng(11);
    let rows = makeRows(range(1, 20_000), rand);
    insertBatchRows(db, runId, rows);
    const sizes = db.prepare('INSERT INTO step_sizes (run_id, step, sizes) VALUES (?, ?, ?)');
    for (const step of [5, 1000, 16_385, 19_999]) sizes.run(runId, step, Buffer.alloc(8));
    // Level boundaries (16·4^k), one past and one before them, 0 (everything), and a resume after each.
    for (const cut of [16_385, 16_384, 16_383, 1025, 1024, 17, 16, 15, 1, 0]) {
      deleteBatchesAfter(db, runId, cut);
      rows = rows.filter((r) => r.step <= cut);
      expect(storedRows(db, runId)).toBe(cut);
      expect(bucketMismatches(db, runId, rows)).toEqual([]);
      const resumed = makeRows(range(cut + 1, cut + 1 + Math.floor(rand() * 3000)), rand, 100, rows.at(-1)?.wallSeconds ?? 0);
      for (const chunk of chunked(resumed, rand, 500)) insertBatchRows(db, runId, chunk);
      rows = rows.concat(resumed);
      expect(bucketMismatches(db, runId, rows)).toEqual([]);
    }
    expect(db.prepare('SELECT step FROM step_sizes WHERE run_id = ? ORDER BY step').pluck().all(runId)).toEqual([]);
    db.close();
  });

  it('keeps step sizes up to the cut', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    insertBatchRows(db, runId, makeRows(range(1, 100), prng(12)));
    const sizes = db.prepare('INSERT INTO step_sizes (run_id, step, sizes) VALUES (?, ?, ?)');
    for (const step of [5, 50, 51, 99]) sizes.run(runId, step, Buffer.alloc(8));
    deleteBatchesAfter(db, runId, 50);
    expect(db.prepare('SELECT step FROM step_sizes WHERE run_id = ? ORDER BY step').pluck().all(runId)).toEqual([5, 50]);
    db.close();
  });

  it('rebuilds all buckets of imported rows (across a 65 536-step pass), replacing stale ones', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const other = insertRunRow(db);
    const rand = prng(13);
    const rows = makeRows(range(1, 70_000), rand);
    const insert = db.prepare(
      `INSERT INTO batch_metrics (run_id, step, epoch, batch, loss, accuracy, nfe_forward, nfe_backward, seconds, wall_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (const r of rows) insert.run(runId, r.step, r.epoch, r.batch, r.loss, r.accuracy, r.nfeForward, r.nfeBackward, r.seconds, r.wallSeconds);
    })();
    db.prepare(`INSERT INTO metric_buckets VALUES (?, 9, 0, ${AGG_COLUMNS.map(() => 1).join(', ')})`).run(runId); // stale
    const otherRows = makeRows(range(1, 50), rand);
    insertBatchRows(db, other, otherRows);
    rebuildBuckets(db, runId);
    expect(bucketMismatches(db, runId, rows)).toEqual([]);
    expect(bucketMismatches(db, other, otherRows)).toEqual([]);
    rebuildBuckets(db, insertRunRow(db)); // no rows: nothing to do
    db.close();
  });
});

describe('batchSeries', () => {
  const PER_EPOCH = 250;
  const db = freshDb();
  const long = insertRunRow(db, { batchesPerEpoch: PER_EPOCH });
  const short = insertRunRow(db, { batchesPerEpoch: PER_EPOCH });
  const empty = insertRunRow(db);
  const rand = prng(21);
  const longRows = makeRows(range(1, 30_000), rand, PER_EPOCH);
  longRows[12_345].loss = 40; // a spike and a dip that any faithful downsampling keeps
  longRows[23_456].loss = -3;
  for (const chunk of chunked(longRows, rand, 2000)) insertBatchRows(db, long, chunk);
  const shortRows = makeRows(range(1, 150), rand, PER_EPOCH);
  insertBatchRows(db, short, shortRows);
  const byStep = new Map(longRows.map((r) => [r.step, r]));

  const metricKey = (m: (typeof BATCH_METRICS)[number]) => m as keyof BatchRow;

  it('reads a long run from buckets: ≤ maxPoints real points keeping the first, last, minimum and maximum', () => {
    const maxPoints = 400;
    expect(seriesPlan(1, 30_000, maxPoints)).toEqual({ source: 'buckets', level: 3 });
    for (const metric of BATCH_METRICS) {
      const [s] = batchSeries(db, [long], metric, { maxPoints });
      const key = metricKey(metric);
      expect(s.runId).toBe(long);
      expect(s.totalPoints).toBe(30_000);
      expect(s.points.length).toBeLessThanOrEqual(maxPoints);
      expect(s.points.length).toBeGreaterThan(maxPoints / 4);
      for (let k = 1; k < s.points.length; k++) expect(s.points[k].step).toBeGreaterThan(s.points[k - 1].step);
      for (const p of s.points) {
        expect(p.x).toBe(p.step);
        expect(p.y).toBe(byStep.get(p.step)![key]);
      }
      // The raw-row M4 has the same first, last and extreme points.
      const raw = downsampleM4(
        longRows.map((r) => ({ step: r.step, x: r.step, y: r[key] })),
        maxPoints,
      );
      const extremes = (ps: { step: number; y: number }[]) => {
        let min = ps[0];
        let max = ps[0];
        for (const p of ps) {
          if (p.y < min.y) min = p;
          if (p.y > max.y) max = p;
        }
        return { first: ps[0], last: ps.at(-1), min, max };
      };
      const strip = (e: ReturnType<typeof extremes>) =>
        Object.fromEntries(Object.entries(e).map(([k, p]) => [k, { step: p!.step, y: p!.y }]));
      expect(strip(extremes(s.points))).toEqual(strip(extremes(raw)));
    }
    const [loss] = batchSeries(db, [long], 'loss', { maxPoints });
    expect(loss.points.map((p) => p.y)).toEqual(expect.arrayContaining([40, -3]));
  });

  it('reads a short run raw: exactly the M4 of its rows', () => {
    const [s] = batchSeries(db, [short], 'accuracy', { maxPoints: 100 });
    expect(seriesPlan(1, 150, 100)).toEqual({ source: 'raw' });
    expect(s.totalPoints).toBe(150);
    expect(s.points).toEqual(downsampleM4(shortRows.map((r) => ({ step: r.step, x: r.step, y: r.accuracy })), 100));
    const [all] = batchSeries(db, [short], 'accuracy', { maxPoints: 150 });
    expect(all.points).toEqual(shortRows.map((r) => ({ step: r.step, x: r.step, y: r.accuracy })));
  });

  it('reads rows that have no buckets (inserted behind insertBatchRows’ back) raw rather than showing nothing', () => {
    const bare = insertRunRow(db);
    const rows = makeRows(range(1, 5000), rand);
    const insert = db.prepare(
      `INSERT INTO batch_metrics (run_id, step, epoch, batch, loss, accuracy, nfe_forward, nfe_backward, seconds, wall_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const r of rows) insert.run(bare, r.step, r.epoch, r.batch, r.loss, r.accuracy, r.nfeForward, r.nfeBackward, r.seconds, r.wallSeconds);
    expect(seriesPlan(1, 5000, 100).source).toBe('buckets');
    const [s] = batchSeries(db, [bare], 'seconds', { maxPoints: 100 });
    expect(s.totalPoints).toBe(5000);
    expect(s.points).toEqual(downsampleM4(rows.map((r) => ({ step: r.step, x: r.step, y: r.seconds })), 100));
  });

  it('serves several runs in the order asked, an empty run as no points', () => {
    const out = batchSeries(db, [short, empty, long], 'nfeForward');
    expect(out.map((s) => [s.runId, s.totalPoints])).toEqual([
      [short, 150],
      [empty, 0],
      [long, 30_000],
    ]);
    expect(out[1].points).toEqual([]);
    expect(out[2].points.length).toBeLessThanOrEqual(2000);
  });

  it("'epoch' axis: x = step / batches per epoch", () => {
    for (const run of [short, long]) {
      const [s] = batchSeries(db, [run], 'loss', { axis: 'epoch', maxPoints: 300 });
      for (const p of s.points) expect(p.x).toBe(p.step / PER_EPOCH);
      expect(s.points.at(-1)!.x).toBe((run === long ? 30_000 : 150) / PER_EPOCH);
    }
    const noEpochs = insertRunRow(db);
    db.prepare('UPDATE runs SET batches_per_epoch = NULL WHERE id = ?').run(noEpochs);
    insertBatchRows(db, noEpochs, makeRows([1, 2], rand));
    const e = caught(() => batchSeries(db, [noEpochs], 'loss', { axis: 'epoch' }));
    expect(isLabError(e, 'INVALID_ARGUMENT')).toBe(true);
  });

  it("'wall' axis: exact from raw rows; from buckets within the bucket's wall-time span (exact at the ends)", () => {
    const [raw] = batchSeries(db, [short], 'loss', { axis: 'wall', maxPoints: 100 });
    for (const p of raw.points) expect(p.x).toBe(shortRows[p.step - 1].wallSeconds);
    for (const maxPoints of [400, 2000]) {
      const plan = seriesPlan(1, 30_000, maxPoints);
      if (plan.source !== 'buckets') throw new Error('expected a bucket read');
      const size = bucketSize(plan.level);
      const [s] = batchSeries(db, [long], 'loss', { axis: 'wall', maxPoints });
      const [steps] = batchSeries(db, [long], 'loss', { axis: 'step', maxPoints });
      expect(s.points.map((p) => [p.step, p.y])).toEqual(steps.points.map((p) => [p.step, p.y]));
      for (const p of s.points) {
        const b = Math.floor((p.step - 1) / size);
        const span = byStep.get(Math.min((b + 1) * size, 30_000))!.wallSeconds - byStep.get(b * size + 1)!.wallSeconds;
        const error = Math.abs(p.x - byStep.get(p.step)!.wallSeconds);
        expect(error).toBeLessThanOrEqual(span + 1e-9);
      }
      expect(s.points[0].x).toBe(longRows[0].wallSeconds);
      expect(s.points.at(-1)!.x).toBe(longRows.at(-1)!.wallSeconds);
      for (let k = 1; k < s.points.length; k++) expect(s.points[k].x).toBeGreaterThanOrEqual(s.points[k - 1].x);
    }
  });

  it('rejects unknown metrics, axes, point budgets and runs, naming the field and what is allowed', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => batchSeries(db, [long], 'nfe_forward' as never), /^INVALID_ARGUMENT: metric: expected one of loss, accuracy, nfeForward, nfeBackward, seconds, got "nfe_forward"$/],
      [() => batchSeries(db, [long], 'loss) FROM runs; --' as never), /^INVALID_ARGUMENT: metric: expected one of/],
      [() => batchSeries(db, [long], 'wallSeconds' as never), /^INVALID_ARGUMENT: metric: /],
      [() => batchSeries(db, [long], 'loss', { axis: 'time' as never }), /^INVALID_ARGUMENT: axis: expected one of step, epoch, wall, got "time"$/],
      [() => batchSeries(db, [long], 'loss', { maxPoints: 2 }), /^INVALID_ARGUMENT: maxPoints: /],
      [() => batchSeries(db, ['1' as never], 'loss'), /^INVALID_ARGUMENT: runIds: /],
      [() => epochSeries(db, [long], 'test_loss' as never), /^INVALID_ARGUMENT: metric: expected one of loss, accuracy, testLoss, testAccuracy, /],
      [() => epochSeries(db, [long], 'testLoss', { axis: 'batch' as never }), /^INVALID_ARGUMENT: axis: expected one of epoch, step, wall, got "batch"$/],
    ];
    for (const [call, message] of bad) {
      const e = caught(call);
      expect(isLabError(e, 'INVALID_ARGUMENT')).toBe(true);
      expect(e.message).toMatch(message);
    }
    const missing = caught(() => batchSeries(db, [long, 9999], 'loss'));
    expect(isLabError(missing, 'NOT_FOUND')).toBe(true);
  });
});

interface EpochRow {
  epoch: number;
  step: number;
  loss: number;
  accuracy: number;
  /** null: not a finite number (stored as NULL). */
  testLoss: number | null;
  testAccuracy: number;
  wallSeconds: number;
}

function insertEpochs(db: Db, runId: number, rows: EpochRow[]): void {
  const insert = db.prepare(
    `INSERT INTO epoch_metrics (run_id, epoch, step, loss, accuracy, test_loss, test_accuracy, nfe_forward_mean, nfe_forward_max,
       nfe_backward_mean, nfe_backward_max, steps_accepted, steps_rejected, test_nfe_forward_mean, seconds, wall_seconds,
       peak_tensor_bytes, rss_bytes)
     VALUES (?, ?, ?, ?, ?, ?, ?, 14.5, 20, 21.5, 30, 100, 3, 14, 12.5, ?, 1000000, 2000000)`,
  );
  for (const r of rows) insert.run(runId, r.epoch, r.step, r.loss, r.accuracy, r.testLoss, r.testAccuracy, r.wallSeconds);
}

function epochRows(values: [number | null, number][], perEpoch = 100): EpochRow[] {
  return values.map(([testLoss, testAccuracy], i) => ({
    epoch: i + 1,
    step: (i + 1) * perEpoch,
    loss: 1 / (i + 1),
    accuracy: 0.5 + i / 100,
    testLoss,
    testAccuracy,
    wallSeconds: 10 * (i + 1) + 0.5,
  }));
}

describe('epochSeries and finalAndBest', () => {
  it('gives per-epoch series on the epoch, step and wall axes, downsampled when long', () => {
    const db = freshDb();
    const runId = insertRunRow(db);
    const rows = epochRows(Array.from({ length: 50 }, (_, i) => [Math.cos(i), (i * 7) % 10]));
    insertEpochs(db, runId, rows);
    const [byEpoch] = epochSeries(db, [runId], 'testLoss');
    expect(byEpoch.points).toEqual(rows.map((r) => ({ step: r.step, x: r.epoch, y: r.testLoss })));
    expect(byEpoch.totalPoints).toBe(50);
    const [byStep] = epochSeries(db, [runId], 'loss', { axis: 'step' });
    expect(byStep.points[3]).toEqual({ step: 400, x: 400, y: 0.25 });
    const [byWall] = epochSeries(db, [runId], 'peakTensorBytes', { axis: 'wall' });
    expect(byWall.points[0]).toEqual({ step: 100, x: 10.5, y: 1_000_000 });
    const [few] = epochSeries(db, [runId], 'testAccuracy', { maxPoints: 8 });
    expect(few.points.length).toBeLessThanOrEqual(8);
    expect(Math.max(...few.points.map((p) => p.y))).toBe(9);
    expect(Math.min(...few.points.map((p) => p.y))).toBe(0);
    expect(few.totalPoints).toBe(50);
    db.close();
  });

  it('finds each run’s final epoch and best test accuracy and loss (earliest on ties) in one call', () => {
    const db = freshDb();
    const a = insertRunRow(db);
    const b = insertRunRow(db);
    const none = insertRunRow(db);
    insertEpochs(
      db,
      a,
      epochRows([
        [0.9, 0.6],
        [0.5, 0.8],
        [0.7, 0.8],
        [0.5, 0.7],
      ]),
    );
    insertEpochs(db, b, epochRows([[0.3, 0.95]]));
    const out = finalAndBest(db, [a, b, none]);
    expect([...out.keys()]).toEqual([a, b, none]);
    expect(out.get(a)).toEqual({
      final: { epoch: 4, loss: 0.25, accuracy: 0.53, testLoss: 0.5, testAccuracy: 0.7 },
      best: { testAccuracy: 0.8, epoch: 2, testLoss: 0.5, testLossEpoch: 2 },
    });
    expect(out.get(b)).toEqual({
      final: { epoch: 1, loss: 1, accuracy: 0.5, testLoss: 0.3, testAccuracy: 0.95 },
      best: { testAccuracy: 0.95, epoch: 1, testLoss: 0.3, testLossEpoch: 1 },
    });
    expect(out.get(none)).toEqual({ final: null, best: null });
    expect(finalAndBest(db, []).size).toBe(0);
    // Test losses that were not finite (NULL) are never the best, and a final one is reported as null.
    const diverged = insertRunRow(db);
    insertEpochs(
      db,
      diverged,
      epochRows([
        [null, 0.3],
        [0.8, 0.5],
        [null, 0.1],
      ]),
    );
    expect(finalAndBest(db, [diverged]).get(diverged)).toEqual({
      final: { epoch: 3, loss: 1 / 3, accuracy: 0.52, testLoss: null, testAccuracy: 0.1 },
      best: { testAccuracy: 0.5, epoch: 2, testLoss: 0.8, testLossEpoch: 2 },
    });
    const allNull = insertRunRow(db);
    insertEpochs(db, allNull, epochRows([[null, 0.2]]));
    expect(finalAndBest(db, [allNull]).get(allNull)!.best).toEqual({ testAccuracy: 0.2, epoch: 1, testLoss: null, testLossEpoch: null });
    const [series] = epochSeries(db, [diverged], 'testLoss');
    expect(series).toEqual({ runId: diverged, points: [{ step: 200, x: 2, y: 0.8 }], totalPoints: 1 });
    db.close();
  });
});

/**
 * A writer in a worker thread (its own connection), inserting `chunks` flushes of `chunkRows` rows, two per
 * transaction. The worker loads the TypeScript sources through tsx's CommonJS API.
 *
 * `sync` paces it with the reader, so that reads land where they should whatever the threads' speeds: [0] counts the
 * reader's reads; [1] is the writer's phase, 3t+1 in transaction t with its first flush in, 3t+2 as it commits, 3t+3
 * once committed. In phases 3t+1 and 3t+3 the writer waits for two more reads: the second began in that phase.
 */
function startWriter(path: string, runId: number, chunks: number, chunkRows: number, sync: SharedArrayBuffer): Worker {
  const requireHere = createRequire(import.meta.url);
  const here = fileURLToPath(import.meta.url);
  return new Worker(
    `
    const { parentPort, workerData: w } = require('node:worker_threads');
    try {
      const tsx = require(w.tsx);
      const { openDatabase } = tsx.require(w.database, w.base);
      const { insertBatchRows } = tsx.require(w.metrics, w.base);
      const db = openDatabase(w.path);
      const rows = (from) => Array.from({ length: w.chunkRows }, (_, i) => {
        const step = from + i;
        return { step, epoch: 1, batch: step, loss: Math.sin(step), accuracy: (step % 13) / 13, nfeForward: step % 7,
                 nfeBackward: 2, seconds: 0.1, wallSeconds: step / 10 };
      });
      const sync = new Int32Array(w.sync);
      const twoReads = () => {
        const target = Atomics.load(sync, 0) + 2;
        const deadline = Date.now() + 30000;
        for (let n; (n = Atomics.load(sync, 0)) < target; Atomics.wait(sync, 0, n, 100)) {
          if (Date.now() > deadline) throw new Error('the reader stopped reading');
        }
      };
      parentPort.postMessage('ready');
      for (let c = 0, t = 0; c < w.chunks; c += 2, t++) {
        db.transaction(() => {
          insertBatchRows(db, w.runId, rows(c * w.chunkRows + 1));
          Atomics.store(sync, 1, 3 * t + 1);
          twoReads(); // reads while the transaction is open, half its rows written
          insertBatchRows(db, w.runId, rows((c + 1) * w.chunkRows + 1));
          Atomics.store(sync, 1, 3 * t + 2);
        })();
        Atomics.store(sync, 1, 3 * t + 3);
        twoReads(); // reads of this commit
      }
      db.close();
      parentPort.postMessage('done');
    } catch (e) {
      parentPort.postMessage({ error: String((e && e.stack) || e) });
    }
    `,
    {
      eval: true,
      workerData: {
        tsx: requireHere.resolve('tsx/cjs/api'),
        database: resolve(dirname(here), '../../src-main/store/database.ts'),
        metrics: resolve(dirname(here), '../../src-main/store/metrics.ts'),
        base: here,
        path,
        runId,
        chunks,
        chunkRows,
        sync,
      },
    },
  );
}

describe('a reader on a second connection', () => {
  it('sees only committed rows while a writer holds a transaction open (WAL)', () => {
    const path = tempDbPath();
    const writer = freshDb(path);
    const runId = insertRunRow(writer);
    const reader = openDatabase(path, { readonly: true });
    const rows = makeRows(range(1, 3000), prng(31));
    insertBatchRows(writer, runId, rows.slice(0, 1000));
    writer.exec('BEGIN IMMEDIATE');
    insertBatchRows(writer, runId, rows.slice(1000, 2000));
    const during = batchSeries(reader, [runId], 'loss', { maxPoints: 100 })[0];
    expect(during.totalPoints).toBe(1000);
    expect(during.points.at(-1)!.step).toBe(1000);
    expect(bucketMismatches(reader, runId, rows.slice(0, 1000))).toEqual([]);
    insertBatchRows(writer, runId, rows.slice(2000));
    writer.exec('COMMIT');
    const after = batchSeries(reader, [runId], 'loss', { maxPoints: 100 })[0];
    expect(after.totalPoints).toBe(3000);
    expect(bucketMismatches(reader, runId, rows)).toEqual([]);
    reader.close();
    writer.close();
  });

  it('reads consistent snapshots and never errors while a writer thread commits flush after flush', async () => {
    const path = tempDbPath();
    const setup = freshDb(path);
    const runId = insertRunRow(setup);
    setup.close();
    const CHUNK = 100;
    const TRANSACTIONS = 100; // 200 flushes, two a transaction
    const sync = new Int32Array(new SharedArrayBuffer(8));
    const worker = startWriter(path, runId, 2 * TRANSACTIONS, CHUNK, sync.buffer as SharedArrayBuffer);
    const writer: { state: 'starting' | 'writing' | 'done'; failure?: string } = { state: 'starting' };
    worker.on('message', (m: unknown) => {
      if (m === 'ready') writer.state = 'writing';
      else if (m === 'done') writer.state = 'done';
      else writer.failure = JSON.stringify(m);
    });
    worker.on('error', (e) => (writer.failure = String(e)));
    const reader = openDatabase(path, { readonly: true });
    const counts = new Set<number>();
    const steadyPhases = new Set<number>(); // writer phases that held for a whole read
    let reads = 0;
    while (writer.state !== 'done' && !writer.failure) {
      await new Promise((resolve) => setTimeout(resolve, writer.state === 'starting' ? 20 : 1));
      const phase = Atomics.load(sync, 1);
      // One read transaction: the rows and the buckets of the same commit.
      reader.transaction(() => {
        const [s] = batchSeries(reader, [runId], 'loss', { maxPoints: 64 });
        const n = storedRows(reader, runId);
        expect(n % (2 * CHUNK)).toBe(0); // whole transactions only
        expect(s.totalPoints).toBe(n);
        counts.add(n);
        if (n > 0) {
          expect(s.points.at(-1)!.step).toBe(n);
          for (const p of s.points) expect(p.y).toBe(Math.sin(p.step));
          const last = reader
            .prepare(`SELECT last_step FROM metric_buckets WHERE run_id = ? AND level = ? ORDER BY bucket DESC LIMIT 1`)
            .pluck();
          for (let level = 1; level <= BUCKET_LEVELS; level++) expect(last.get(runId, level)).toBe(n);
        }
        if (phase > 0 && Atomics.load(sync, 1) === phase && phase % 3 !== 2) {
          // Inside transaction t (3t+1): the t transactions before it, none of its rows; after it (3t+3): t + 1.
          steadyPhases.add(phase);
          expect(n, `phase ${phase}`).toBe(2 * CHUNK * Math.ceil(phase / 3) - (phase % 3 === 1 ? 2 * CHUNK : 0));
        }
      })();
      reads++;
      Atomics.add(sync, 0, 1);
      Atomics.notify(sync, 0);
    }
    expect(writer.failure).toBeUndefined();
    await worker.terminate();
    const [s] = batchSeries(reader, [runId], 'loss', { maxPoints: 64 });
    expect(s.totalPoints).toBe(2 * TRANSACTIONS * CHUNK);
    // Every transaction was read while open and once committed, whatever the threads' speeds (the writer waits for it).
    const transactions = range(0, TRANSACTIONS - 1);
    expect([...steadyPhases].sort((a, b) => a - b)).toEqual(transactions.flatMap((t) => [3 * t + 1, 3 * t + 3]));
    expect([...counts].sort((a, b) => a - b)).toEqual([0, ...transactions.map((t) => 2 * CHUNK * (t + 1))]);
    expect(reads).toBeGreaterThanOrEqual(4 * TRANSACTIONS);
    reader.close();
  });
});
