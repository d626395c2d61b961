/**
 * Run-store benchmark, on a temporary database file (WAL, as the lab opens it). JSON on stdout (and
 * bench/results/store.json).
 *
 *   npx tsx bench/store.ts [--runs 10] [--steps 100000] [--chunk 1000] [--list-runs 10000] [--repeats 15]
 *
 * (a) insert: runs × steps per-batch rows through insertBatchRows, `chunk` rows per call as a recorder flushes
 *     (one transaction each, runs interleaved as concurrent recorders would be) → rows/s. Target ≥ 200 000.
 * (b) series: batchSeries of those runs, maxPoints 2000, on the step and wall axes → median ms. Target < 50.
 *     Also: rebuildBuckets of one run (what an import pays after inserting the raw rows) → rows/s.
 * (c) list: `list-runs` ended runs with 1–5 epochs each; listRuns (runs.ts: the run rows and their final/best
 *     metrics) → median ms, target < 100; and finalAndBest alone (the outcomes kept by triggers).
 *
 * Timings on a shared 2-core machine mean little without the load beside them: each part reports this process's
 * CPU use and everyone else's (cpu-load.ts), and rows/s per CPU-second of this process as well as per second.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type Db } from '../src-main/store/database';
import { finalAndBest } from '../src-main/store/outcomes';
import type { BatchRow } from '../src-main/store/metric-inputs';
import { batchSeries, seriesPlan } from '../src-main/store/metric-series';
import { insertBatchRows, rebuildBuckets } from '../src-main/store/metrics';
import { createRun, listRuns, markEnded, markRunning } from '../src-main/store/runs';
import { RunConfig } from '../src-shared/run-config';
import { median, saveResults } from './common';
import { cpuSince, cpuSnapshot } from './cpu-load';
import { createRng } from '../src-main/data/shapes/rng';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    steps: { type: 'string', default: '100000' },
    chunk: { type: 'string', default: '1000' },
    'list-runs': { type: 'string', default: '10000' },
    repeats: { type: 'string', default: '15' },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const CHUNK = Number(values.chunk);
const LIST_RUNS = Number(values['list-runs']);
const REPEATS = Number(values.repeats);
const MAX_POINTS = 2000;
const PER_EPOCH = 500;

const config = RunConfig.parse({
  model: { name: 'shapes-odenet', solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3 } },
  dataset: { kind: 'shapes', mode: 'compound', trainCount: 2700, testCount: 6000 },
  optimizer: { kind: 'adam', lr: 3e-3 },
  batchSize: 120,
  epochs: 200,
});

/** Seeded, so every run draws the same numbers: the project's PRNG (sfc32, as the shapes generator uses). */
const prng = (seed: number): (() => number) => createRng(seed).next;

function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ['', '-wal']) {
    try {
      total += statSync(path + suffix).size;
    } catch {
      // no WAL file
    }
  }
  return total;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

function timeMs(work: () => unknown): number {
  const t0 = performance.now();
  work();
  return performance.now() - t0;
}

/** (a) Rows as a recorder flushes them, a chunk per run in turn; only the insertBatchRows calls are timed. */
function benchInsert(db: Db): { runIds: number[]; result: Record<string, unknown> } {
  const runIds = Array.from({ length: RUNS }, () => {
    const id = createRun(db, { config });
    markRunning(db, id, { backend: 'bench', parameterCount: 1, trainSize: 2700, testSize: 6000, batchesPerEpoch: PER_EPOCH, datasetId: null });
    return id;
  });
  const rand = prng(1);
  const wall = new Array<number>(RUNS).fill(0);
  const flushMs: number[] = [];
  let ownCpuSeconds = 0;
  const cpuStart = cpuSnapshot();
  for (let from = 1; from <= STEPS; from += CHUNK) {
    for (let r = 0; r < RUNS; r++) {
      const rows: BatchRow[] = [];
      for (let step = from; step < from + CHUNK && step <= STEPS; step++) {
        const seconds = 0.08 + rand() * 0.04;
        wall[r] += seconds;
        rows.push({
          step,
          epoch: Math.ceil(step / PER_EPOCH),
          batch: ((step - 1) % PER_EPOCH) + 1,
          loss: 2.3 * Math.exp(-step / 30_000) + rand() * 0.3,
          accuracy: Math.floor(rand() * 121) / 120,
          nfeForward: 20 + Math.floor(rand() * 12),
          nfeBackward: 26 + Math.floor(rand() * 14),
          seconds,
          wallSeconds: wall[r],
        });
      }
      const cpu0 = process.cpuUsage();
      flushMs.push(timeMs(() => insertBatchRows(db, runIds[r], rows)));
      const cpu = process.cpuUsage(cpu0);
      ownCpuSeconds += (cpu.user + cpu.system) / 1e6;
    }
  }
  const load = cpuSince(cpuStart);
  const seconds = flushMs.reduce((a, b) => a + b, 0) / 1000;
  const rows = RUNS * STEPS;
  flushMs.sort((a, b) => a - b);
  return {
    runIds,
    result: {
      rows,
      chunkRows: CHUNK,
      seconds: round(seconds, 2),
      rowsPerSecond: Math.round(rows / seconds),
      rowsPerCpuSecond: Math.round(rows / ownCpuSeconds),
      flushMs: { median: round(median(flushMs), 2), p99: round(flushMs[Math.floor(flushMs.length * 0.99)], 2), max: round(flushMs.at(-1)!, 2) },
      databaseBytes: fileBytes(db.name),
      bucketRows: db.prepare('SELECT count(*) FROM metric_buckets').pluck().get(),
      cpu: load,
      target: { rowsPerSecond: 200_000 },
    },
  };
}

/** (b) Downsampled series of all runs at once, per axis: the first (cold) call and the median of the rest. */
function benchSeries(db: Db, runIds: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = { runs: runIds.length, maxPoints: MAX_POINTS, plan: seriesPlan(1, STEPS, MAX_POINTS) };
  const cpuStart = cpuSnapshot();
  for (const axis of ['step', 'wall', 'epoch'] as const) {
    let points = 0;
    const times = Array.from({ length: REPEATS + 1 }, () =>
      timeMs(() => {
        points = batchSeries(db, runIds, 'loss', { axis, maxPoints: MAX_POINTS }).reduce((n, s) => n + s.points.length, 0);
      }),
    );
    out[axis] = { firstMs: round(times[0]), medianMs: round(median(times.slice(1))), pointsPerRun: Math.round(points / runIds.length) };
  }
  out.cpu = cpuSince(cpuStart);
  out.target = { medianMs: 50 };
  return out;
}

/** (c) Many ended runs with a few epochs each: the run list with final and best metrics. */
function benchList(db: Db): Record<string, unknown> {
  const insertEpoch = db.prepare(
    `INSERT INTO epoch_metrics (run_id, epoch, step, loss, accuracy, test_loss, test_accuracy, nfe_forward_mean, nfe_forward_max,
       nfe_backward_mean, nfe_backward_max, steps_accepted, steps_rejected, test_nfe_forward_mean, seconds, wall_seconds,
       peak_tensor_bytes, rss_bytes)
     VALUES (?, ?, ?, ?, ?, ?, ?, 20, 26, 30, 40, 500, 20, 19, 60, ?, 50000000, 400000000)`,
  );
  const rand = prng(2);
  db.transaction(() => {
    for (let i = 0; i < LIST_RUNS; i++) {
      const id = createRun(db, { config, tags: i % 7 === 0 ? ['baseline'] : [] });
      markRunning(db, id, { backend: 'bench', parameterCount: 1, trainSize: 2700, testSize: 6000, batchesPerEpoch: PER_EPOCH, datasetId: null });
      const epochs = 1 + Math.floor(rand() * 5);
      for (let e = 1; e <= epochs; e++) {
        insertEpoch.run(id, e, e * PER_EPOCH, 2 / e + rand() * 0.1, 0.5 + e / 20, 2 / e + rand() * 0.2, 0.5 + e / 20 + rand() * 0.05, e * 60);
      }
      markEnded(db, id, 'completed');
    }
  })();
  const ids = db.prepare('SELECT id FROM runs').pluck().all() as number[];
  const cpuStart = cpuSnapshot();
  let listed = 0;
  const list = Array.from({ length: REPEATS + 1 }, () => timeMs(() => (listed = listRuns(db).length)));
  const metrics = Array.from({ length: REPEATS + 1 }, () => timeMs(() => finalAndBest(db, ids)));
  return {
    runs: listed,
    epochRows: db.prepare('SELECT count(*) FROM epoch_metrics').pluck().get(),
    listRuns: { firstMs: round(list[0]), medianMs: round(median(list.slice(1))) },
    finalAndBestOnly: { firstMs: round(metrics[0]), medianMs: round(median(metrics.slice(1))) },
    cpu: cpuSince(cpuStart),
    target: { medianMs: 100 },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'odelab-bench-store-'));
const load = { start: loadavg()[0], end: 0 };
const db = openDatabase(join(dir, 'runs.db'));
const insert = benchInsert(db);
const series = benchSeries(db, insert.runIds);
const rebuildMs = timeMs(() => rebuildBuckets(db, insert.runIds[0]));
const rebuild = { rows: STEPS, ms: round(rebuildMs), rowsPerSecond: Math.round(STEPS / (rebuildMs / 1000)) };
db.close();
const listDb = openDatabase(join(dir, 'list.db'));
const list = benchList(listDb);
listDb.close();
rmSync(dir, { recursive: true, force: true });
load.end = loadavg()[0];

const results = {
  benchmark: 'store',
  date: new Date().toISOString(),
  node: process.version,
  sqlite: (openDatabase(':memory:').prepare('SELECT sqlite_version()').pluck().get() as string) ?? null,
  loadAverage1m: load,
  insert: insert.result,
  series,
  rebuild,
  list,
};
saveResults('store', results);
