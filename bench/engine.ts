/**
 * Engine benchmark: forward and forward+backward time and NFE of one ODE-block solve at batch 128 for the two
 * write-ups' dynamics. JSON on stdout (and bench/results/engine.json).
 *
 *   npx tsx bench/engine.ts [--repeats 10] [--backend wasm|cpu|tensorflow] [--workers N]
 *
 * With --workers N (> 1) each case also measures forward+backward of the whole model (stem, block, head; the
 * block is most of it) through a GradientWorkerPool of N threads, next to the same model single-threaded.
 *
 * Inputs are real: MNIST test images through the ODENet's (untrained) stem, and Fashion-MNIST-shaped features
 * through the ConvNODE stem, so the adaptive solvers see realistic states. Reference (same 2-core machine,
 * PyTorch 1.13 + torchdiffeq, both cores): a whole ODENet training step, mostly this solve, ≈ 0.46 s with
 * 14 forward and 14 backward NFE.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor } from '../src-main/engine';
import { conv2d, createConv, createDense, createGroupNorm, dense, groupNorm, SeedSequence } from '../src-main/engine/nn/layers';
import { convGroupNormDynamics, mlpDynamics } from '../src-main/engine/nn/dynamics';
import { readIdx } from '../src-main/data';
import { buildModel, type Model } from '../src-main/engine/models';
import { lossAndGradients } from '../src-main/engine/train/gradients';
import { GradientWorkerPool } from '../src-main/engine/parallel';
import { ModelSpec, type ModelName } from '../src-shared/run-config';
import { cpuSince, cpuSnapshot } from './cpu-load';
import { median, mnistDir, saveResults } from './common';

const { values } = parseArgs({
  options: { repeats: { type: 'string', default: '10' }, backend: { type: 'string' }, workers: { type: 'string', default: '1' } },
});
const repeats = Number(values.repeats);
const workers = Number(values.workers);
const BATCH = 128;

const backend = await initEngine({ backend: values.backend as 'wasm' | 'cpu' | 'tensorflow' | undefined });
const images = await readIdx(`${mnistDir()}/t10k-images-idx3-ubyte`);
const batchImages = tf.tidy(() =>
  tf.div(tf.tensor4d(images.data.subarray(0, BATCH * 784), [BATCH, 28, 28, 1], 'float32'), 255),
);

interface Case {
  name: string;
  model: ModelName;
  h0: Tensor;
  dynamics: ReturnType<typeof convGroupNormDynamics> | ReturnType<typeof mlpDynamics>;
  head: (h: Tensor) => Tensor;
  options: OdeintOptions;
}

function odenetCase(): Case {
  const seeds = new SeedSequence(1);
  const stem = { conv: createConv(1, 6, 3, seeds), norm: createGroupNorm(6, 6) };
  const h0 = tf.tidy(() => tf.relu(groupNorm(conv2d(batchImages, stem.conv, 'valid'), stem.norm)));
  const dynamics = convGroupNormDynamics(6, seeds);
  const fc = createDense(6 * 13 * 13, 10, seeds);
  return {
    model: 'odenet-mnist',
    name: 'odenet-mnist dynamics (GN-ReLU-conv3x3 6→6-GN on 26×26×6), dopri5 rtol=atol=0.1, adjoint',
    h0,
    dynamics,
    head: (h) => dense(tf.reshape(tf.avgPool(h as tf.Tensor4D, 2, 2, 'valid'), [BATCH, -1]), fc),
    options: { method: 'dopri5', rtol: 0.1, atol: 0.1, gradient: 'adjoint' },
  };
}

function fashionCase(): Case {
  const seeds = new SeedSequence(2);
  const stem = createConv(1, 3, 3, seeds);
  const h0 = tf.tidy(() => tf.reshape(tf.relu(conv2d(batchImages, stem, 'valid')), [BATCH, 2028]));
  const dynamics = mlpDynamics(2028, 16, seeds);
  const fc = createDense(2028, 10, seeds);
  return {
    model: 'convnode-fashion',
    name: 'convnode-fashion dynamics (MLP 2028→16→16→2028, ReLU), tsit5 rtol=atol=1e-3, direct',
    h0,
    dynamics,
    head: (h) => dense(h, fc),
    options: { method: 'tsit5', rtol: 1e-3, atol: 1e-3, gradient: 'direct' },
  };
}

const labels = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), 'int32'), 10);

const r3 = (xss: number[][]) => xss.map((xs) => xs.map((v) => Number(v.toFixed(3))));

/** Whole-model forward+backward per batch: single-threaded, then through a pool of `workers` threads. */
async function measureParallel(c: Case) {
  const spec = ModelSpec.parse({ name: c.model, solver: c.options });
  const ctx = { classes: 10, imageShape: [28, 28, 1] as const, seed: 1 };
  const model: Model = buildModel(spec, ctx);
  const x = batchImages.dataSync() as Float32Array;
  const y = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), 'int32');
  const single = () => {
    const start = performance.now();
    const r = lossAndGradients(model, batchImages, y, 10);
    r.grads[0].dataSync();
    const seconds = (performance.now() - start) / 1000;
    const { nfeForward, nfeBackward } = r.odeStats[0];
    tf.dispose([r.loss, r.logits, ...r.grads]);
    return { seconds, nfeForward, nfeBackward };
  };
  const pool = await GradientWorkerPool.create({ spec, ctx, backend: backend.backend as 'wasm', workers });
  try {
    const weights = model.params.map((p) => p.dataSync() as Float32Array);
    const labels = y.dataSync() as Int32Array;
    const pooled = async () => {
      const start = performance.now();
      const r = await pool.computeGradients(weights, x, labels, [BATCH, 28, 28, 1]);
      const seconds = (performance.now() - start) / 1000;
      return { seconds, nfeForward: r.nfeForward, nfeBackward: r.nfeBackward, shardSeconds: r.shards.map((s) => s.seconds) };
    };
    single();
    await pooled(); // warm-up
    const s: ReturnType<typeof single>[] = [];
    const p: Awaited<ReturnType<typeof pooled>>[] = [];
    // Interleaved, so both see the same background load.
    for (let i = 0; i < repeats; i++) {
      s.push(single());
      p.push(await pooled());
    }
    const summary = (rs: { seconds: number; nfeForward: number; nfeBackward: number }[]) => ({
      medianSeconds: median(rs.map((r) => r.seconds)),
      nfeForward: median(rs.map((r) => r.nfeForward)),
      nfeBackward: median(rs.map((r) => r.nfeBackward)),
    });
    const overhead = median(p.map((r) => r.seconds - Math.max(...r.shardSeconds)));
    const shards = r3(p.map((r) => r.shardSeconds));
    return { model: c.model, singleThread: summary(s), workers, pool: { ...summary(p), overheadSeconds: overhead, shardSeconds: shards } };
  } finally {
    await pool.dispose();
    tf.dispose([y, ...model.params]);
  }
}

function measure(c: Case) {
  const forward = () => {
    const start = performance.now();
    const { ys, stats } = odeint(c.dynamics, c.h0, [0, 1], c.options);
    ys[1].dataSync(); // wait for the result, not just for the dispatch
    tf.dispose(ys);
    return { seconds: (performance.now() - start) / 1000, stats };
  };
  const forwardBackward = () => {
    const start = performance.now();
    let stats: ReturnType<typeof odeint>['stats'] | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const sol = odeint(c.dynamics, c.h0, [0, 1], c.options);
      stats = sol.stats;
      return tf.losses.softmaxCrossEntropy(labels, c.head(sol.ys[1])) as tf.Scalar;
    });
    Object.values(grads)[0].dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    return { seconds: (performance.now() - start) / 1000, stats: stats! };
  };
  forward();
  forwardBackward(); // warm-up: kernel setup and first-call allocations
  const tensorsBefore = tf.memory().numTensors;
  const f = Array.from({ length: repeats }, forward);
  const fb = Array.from({ length: repeats }, forwardBackward);
  return {
    case: c.name,
    forward: {
      medianSeconds: median(f.map((r) => r.seconds)),
      nfeForward: median(f.map((r) => r.stats.nfeForward)),
    },
    forwardBackward: {
      medianSeconds: median(fb.map((r) => r.seconds)),
      nfeForward: median(fb.map((r) => r.stats.nfeForward)),
      nfeBackward: median(fb.map((r) => r.stats.nfeBackward)),
    },
    leakedTensors: tf.memory().numTensors - tensorsBefore,
  };
}

const cases = [odenetCase(), fashionCase()];
const load = { start: loadavg()[0], end: 0 };
const cpuStart = cpuSnapshot();
const measured = cases.map(measure);
const parallel = [];
if (workers > 1) for (const c of cases) parallel.push(await measureParallel(c));
load.end = loadavg()[0];
const results = {
  benchmark: 'engine',
  date: new Date().toISOString(),
  backend: backend.backend,
  batch: BATCH,
  repeats,
  loadAverage1m: load,
  cpu: cpuSince(cpuStart),
  cases: measured,
  ...(workers > 1 ? { parallel } : {}),
  reference: { pytorchTorchdiffeqOdenetTrainingStepSeconds: 0.46, nfeForward: 14, nfeBackward: 14 },
};
saveResults(workers > 1 ? `engine-w${workers}` : 'engine', results);
