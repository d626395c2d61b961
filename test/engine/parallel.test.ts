/**
 * Data-parallel gradients over worker threads, on real (generated) shapes images: the pool's gradient is the
 * single-process gradient of the same batch, errors come back typed, a dead worker fails calls instead of
 * hanging them, dispose stops every thread, and the trainer learns deterministically with two workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { buildModel, type BuildContext, type Model } from '../../src-main/engine/models';
import { lossAndGradients } from '../../src-main/engine/train/gradients';
import { correctCount } from '../../src-main/engine/train/metrics';
import { train } from '../../src-main/engine/train/trainer';
import { evaluate } from '../../src-main/engine/train/evaluate';
import { GradientWorkerPool, shardRanges, type PoolGradients } from '../../src-main/engine/parallel';
import { normalise, type Dataset } from '../../src-main/data';
import { LabError } from '../../src-shared/errors';
import { ModelSpec, type RunConfig } from '../../src-shared/run-config';
import type { BatchEvent, RunEvent } from '../../src-shared/run-events';
import { tinyConfig, tinyDataset } from '../train/fixtures';

let dataset: Dataset;
let backend: 'wasm' | 'cpu' | 'tensorflow';
let ctx: BuildContext;
const N = 30; // odd shard sizes would also do; 30 splits 15 + 15
let x: Float32Array;
let labels: Int32Array;
const shape = [N, 28, 28, 1] as const;
const pools: GradientWorkerPool[] = [];

beforeAll(async () => {
  backend = (await initEngine()).backend as typeof backend;
  dataset = await tinyDataset();
  ctx = { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: 4 };
  x = normalise(dataset.train.images.subarray(0, N * 784), 'unit');
  labels = Int32Array.from(dataset.train.labels.subarray(0, N));
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
});

async function pool(spec: ModelSpec, workers = 2): Promise<GradientWorkerPool> {
  const p = await GradientWorkerPool.create({ spec, ctx, backend, workers });
  pools.push(p);
  return p;
}

const weightsOf = (model: Model) => model.params.map((p) => Float32Array.from(p.dataSync() as Float32Array));

/** Single-process loss, correct count and gradients of rows [start, end) of the batch. */
function local(model: Model, start = 0, end = N) {
  const xs = tf.tensor4d(x.subarray(start * 784, end * 784), [end - start, 28, 28, 1]);
  const ys = tf.tensor1d(labels.subarray(start, end), 'int32');
  try {
    const { loss, logits, grads, odeStats } = lossAndGradients(model, xs, ys, ctx.classes);
    const result = {
      loss: loss.dataSync()[0],
      correct: correctCount(logits, ys),
      grads: grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)),
      odeStats: odeStats.map((s) => ({ ...s })),
    };
    tf.dispose([loss, logits, ...grads]);
    return result;
  } finally {
    tf.dispose([xs, ys]);
  }
}

/**
 * Largest entry-wise difference, relative to the largest gradient entry of the model. The two sides sum the same
 * per-example terms in a different order (one batch vs. two halves reduced separately, then combined), so they
 * differ by float32 rounding of sums of up to 30·28·28 ≈ 2.4e4 terms (a conv bias): ~√n·ε ≈ 2e-5 of the
 * magnitude (ε = 1.2e-7), observed 2.4e-5 — hence 1e-4. The scale is model-wide, not per parameter: a conv bias
 * followed by GroupNorm has a true gradient of zero, so its float32 value is pure rounding noise.
 * A wrong weighting or a missing shard would be off by tens of percent.
 */
function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  const scale = b.reduce((m, g) => g.reduce((mm, v) => Math.max(mm, Math.abs(v)), m), 1e-12);
  let worst = 0;
  a.forEach((ga, i) => {
    for (let k = 0; k < ga.length; k++) worst = Math.max(worst, Math.abs(ga[k] - b[i][k]));
  });
  return worst / scale;
}

describe('GradientWorkerPool', () => {
  it('matches the single-process gradient of the whole batch (fixed-step model) and is deterministic', async () => {
    const spec = ModelSpec.parse({ name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.25 } });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    const whole = local(model);
    const a = await p.computeGradients(weightsOf(model), x, labels, shape);
    const b = await p.computeGradients(weightsOf(model), x, labels, shape);

    expect(a.shards.map((s) => [s.start, s.size])).toEqual([[0, 15], [15, 15]]);
    expect(a.loss).toBeCloseTo(whole.loss, 5);
    expect(a.correct).toBe(whole.correct);
    expect(maxRelativeDifference(a.grads, whole.grads)).toBeLessThan(1e-4);
    // Half of the batch alone is a different gradient: the bound above has teeth.
    expect(maxRelativeDifference(local(model, 0, 15).grads, whole.grads)).toBeGreaterThan(1e-2);
    expect(a.nfeForward).toBe(4);
    expect(a.nfeBackward).toBe(4);
    // Same inputs, same sharding: bit-identical.
    expect(b.loss).toBe(a.loss);
    b.grads.forEach((g, i) => expect(g).toEqual(a.grads[i]));
    tf.dispose(model.params);
  });

  // Shards sum their error norms (ShardSync), so they take the steps one process takes for the whole batch:
  // same NFE and steps, same step sizes, gradients equal to float32 rounding. Adjoint covers the shared dL/dθ
  // parts of the backward state; implicit midpoint the nonlinear solves' convergence norms.
  //
  // Tolerances: fixed steps (implicit midpoint) give the fixed-step case's float32 bound, 1e-4. Adaptive steps
  // agree only to ~1e-4 relative: the error estimate is a small difference of stage slopes, so the float32
  // rounding of sums that differ between one batch and two shards moves each step size a little, and the
  // gradients of the early layers follow (observed 2.5e-4 with tsit5, 1.2e-3 with the dopri5 adjoint): 5e-3.
  // What per-shard control would break — the number of steps and their sizes — is checked exactly below.
  it.each([
    { solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' }, tolerance: 5e-3 },
    { solver: { method: 'tsit5', rtol: 1e-4, atol: 1e-4, gradient: 'direct' }, tolerance: 5e-3 },
    { solver: { method: 'implicit-midpoint', stepSize: 0.25, gradient: 'direct' }, tolerance: 1e-4 },
  ] as const)('takes the whole batch’s steps: $solver.method $solver.gradient', async ({ solver, tolerance }) => {
    const spec = ModelSpec.parse({ name: 'odenet-mnist', solver });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    const result: PoolGradients = await p.computeGradients(weightsOf(model), x, labels, shape);
    const whole = local(model);

    expect(result.loss).toBeCloseTo(whole.loss, 5);
    expect(result.correct).toBe(whole.correct);
    expect(maxRelativeDifference(result.grads, whole.grads)).toBeLessThan(tolerance);
    const counts = ({ nfeForward, nfeBackward, stepsAccepted, stepsRejected }: (typeof whole.odeStats)[number]) => ({
      nfeForward,
      nfeBackward,
      stepsAccepted,
      stepsRejected,
    });
    result.shards.forEach((s) => {
      expect(s.odeStats).toEqual(whole.odeStats.map(counts));
      // The step sizes the run store keeps: the whole batch's, covering t ∈ [0, 1].
      expect(s.stepSizes!.length).toBe(whole.odeStats[0].stepSizes.length);
      s.stepSizes!.forEach((h, i) => expect(Math.abs(h / whole.odeStats[0].stepSizes[i] - 1)).toBeLessThan(1e-3));
      expect(s.stepSizes!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    });
    expect(result.nfeForward).toBe(whole.odeStats[0].nfeForward);
    if (solver.method !== 'implicit-midpoint') expect(result.nfeForward).toBeGreaterThan(6); // more than one step
    tf.dispose(model.params);
  });

  it('would take other steps if each shard solved alone (so the check above has teeth)', async () => {
    const spec = ModelSpec.parse({ name: 'odenet-mnist', solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' } });
    const model = buildModel(spec, ctx);
    const alone = shardRanges(N, 2).map(({ start, end }) => local(model, start, end).odeStats[0]);
    const whole = local(model).odeStats[0];
    expect(alone.some((s) => s.stepSizes.length !== whole.stepSizes.length || s.stepSizes.some((h, i) => h !== whole.stepSizes[i]))).toBe(true);
    tf.dispose(model.params);
  });

  it('returns a worker LabError with its code and details (maxSteps 1 → MAX_STEPS)', async () => {
    const spec = ModelSpec.parse({ name: 'odenet-mnist', solver: { method: 'dopri5', rtol: 1e-6, atol: 1e-6, maxSteps: 1 } });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    let here: unknown;
    try {
      local(model); // the whole batch: the workers stop where it stops
    } catch (e) {
      here = e;
    }
    const there = await p.computeGradients(weightsOf(model), x, labels, shape).catch((e: unknown) => e);
    expect(here).toBeInstanceOf(LabError);
    expect(there).toBeInstanceOf(LabError);
    const [h, t] = [here as LabError, there as LabError];
    expect(t.code).toBe('MAX_STEPS');
    expect(t.message).toBe(h.message);
    // Where it stopped: the whole batch's first step, its size agreeing to float32 rounding of the norms.
    expect({ ...t.details, t: 0, stepSize: 0 }).toEqual({ ...h.details, t: 0, stepSize: 0 });
    expect(Math.abs((t.details.stepSize as number) / (h.details.stepSize as number) - 1)).toBeLessThan(1e-6);
    tf.dispose(model.params);
  });

  // With an adaptive solver the other shard waits for the dead one's norms: it must be released, not left waiting.
  it.each([
    { method: 'euler', stepSize: 0.05 },
    { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' },
  ] as const)('rejects the pending and later calls when a worker dies, instead of hanging: $method', async (solver) => {
    const spec = ModelSpec.parse({ name: solver.method === 'euler' ? 'shapes-odenet' : 'odenet-mnist', solver });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    const pending = p.computeGradients(weightsOf(model), x, labels, shape).catch((e: unknown) => e);
    await p.threads[1].terminate();
    const error = await Promise.race([pending, new Promise((r) => setTimeout(() => r('hung'), 20_000))]);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).code).toBe('WORKER_FAILED');
    expect((error as LabError).message).toMatch(/gradient worker 1 exited/); // the cause, not the peer it stopped
    await expect(p.computeGradients(weightsOf(model), x, labels, shape)).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message: expect.stringMatching(/gradient worker 1 exited/),
    });
    tf.dispose(model.params);
  });

  it('rejects bad inputs at the edge, and dispose stops every worker', async () => {
    const spec = ModelSpec.parse({ name: 'mlp' });
    const model = buildModel(spec, ctx);
    const p = await GradientWorkerPool.create({ spec, ctx, backend, workers: 3 });
    expect(p.size).toBe(3);
    await expect(p.computeGradients(weightsOf(model).slice(1), x, labels, shape)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(p.computeGradients(weightsOf(model), x, labels.subarray(1), shape)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const exits = p.threads.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));
    const inFlight = p.computeGradients(weightsOf(model), x, labels, shape).catch((e: unknown) => e);
    await p.dispose();
    expect(await Promise.all(exits)).toHaveLength(3);
    expect(p.threads.every((w) => w.threadId === -1)).toBe(true);
    expect(await inFlight).toMatchObject({ code: 'CANCELLED' });
    await expect(p.computeGradients(weightsOf(model), x, labels, shape)).rejects.toMatchObject({ code: 'CANCELLED' });
    tf.dispose(model.params);
  });
});

describe('evaluation through the pool', () => {
  it.each([
    { method: 'dopri5', rtol: 1e-3, atol: 1e-3 },
    { method: 'implicit-midpoint', stepSize: 0.25 },
  ] as const)('gives this thread’s loss, accuracy, confusion matrix and NFE: $method', async (solver) => {
    const spec = ModelSpec.parse({ name: 'odenet-mnist', solver });
    const model = buildModel(spec, ctx);
    const opts = { classes: ctx.classes, imageShape: dataset.imageShape, normalisation: 'unit' as const, batchSize: 25 };
    const here = await evaluate(model, dataset.test, opts);
    const pooled = await evaluate(model, dataset.test, opts, { pool: await pool(spec) });
    expect(here.count).toBeGreaterThan(opts.batchSize); // several batches, the last one short
    expect(pooled.loss).toBeCloseTo(here.loss, 5);
    expect(pooled.accuracy).toBe(here.accuracy);
    expect(pooled.confusion).toEqual(here.confusion);
    expect(pooled.misclassified).toEqual(here.misclassified);
    // Every shard takes the whole batch's steps, so the NFE per batch is the single-process one.
    expect(pooled.nfeForwardMean).toBe(here.nfeForwardMean);
    tf.dispose(model.params);
  });
});

describe('trainer with workers', () => {
  /** The largest |x − ref| / |ref| over the steps (NaN when the runs differ in length). */
  const largestGap = (xs: number[], ref: number[]) =>
    xs.length === ref.length ? Math.max(...xs.map((v, i) => Math.abs(v - ref[i]) / Math.abs(ref[i]))) : NaN;
  async function run(config: RunConfig, workers?: number) {
    const events: RunEvent[] = [];
    const tensors: number[] = [];
    const onEvent = (e: RunEvent) => {
      events.push(e);
      if (e.event === 'batch') tensors.push(tf.memory().numTensors);
    };
    const ended = await train(config, { dataset, backend, workers, onEvent });
    const batches = events.filter((e): e is BatchEvent => e.event === 'batch');
    return { ended, events, batches, tensors, losses: batches.map((b) => b.loss) };
  }

  it('lowers the loss, is deterministic, leaks no tensors, and emits the same events as a single-process run', async () => {
    const config = tinyConfig({ epochs: 3 });
    const a = await run(config, 2);
    const b = await run(config, 2);
    const single = await run(config);
    expect(a.ended.status).toBe('completed');
    expect(b.losses).toEqual(a.losses);
    expect(a.losses).toHaveLength(12);
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(mean(a.losses.slice(-2))).toBeLessThan(0.8 * mean(a.losses.slice(0, 2)));
    // Same starting weights and batches: every step's loss agrees with the single-process run's to float32 rounding
    // (sharded sums against whole-batch ones), amplified by training: measured ≤ 1e-6 relative over the 12 steps.
    // A wrong pooled gradient direction moves them by far more; Adam cannot see a wrong scale (next test).
    expect(largestGap(a.losses, single.losses), 'largest relative gap of a step').toBeLessThan(1e-5);
    const outline = (events: RunEvent[]) => events.map((e) => [e.event, Object.keys(e).sort()]);
    expect(outline(a.events)).toEqual(outline(single.events));
    expect(a.batches.every((x) => x.nfeForward === 4 && x.nfeBackward === 4)).toBe(true);
    expect(new Set(a.tensors).size).toBe(1); // the main thread's side of a pooled step leaks nothing
  });

  it('takes the single-process steps under plain SGD too, which a wrongly scaled pooled gradient would not', async () => {
    // Adam's steps m/√v do not change when every gradient is scaled (a sum of the shards' gradients instead of their
    // mean would pass above); SGD's are proportional to the gradient. One epoch (4 steps): measured ≤ 2e-7 relative
    // apart, where pooled gradients 1.01× too large put the losses 5e-3 apart from the second step on. (Later
    // epochs drift apart to 1e-3 even with the right gradient: this learning rate amplifies rounding.)
    const config = tinyConfig({ epochs: 1, optimizer: { kind: 'sgd', lr: 0.02 } });
    const pooled = await run(config, 2);
    const single = await run(config);
    expect(pooled.losses).toHaveLength(4);
    expect(largestGap(pooled.losses, single.losses), 'largest relative gap of a step').toBeLessThan(1e-5);
  });

  it('evaluates the averaged weights over the pool too (emaDecay)', async () => {
    const testLoss = (r: Awaited<ReturnType<typeof run>>) => r.events.find((e) => e.event === 'epoch')!.testLoss;
    const pooled = await run(tinyConfig({ epochs: 1, emaDecay: 0.9 }), 2);
    const single = await run(tinyConfig({ epochs: 1, emaDecay: 0.9 }));
    const unaveraged = await run(tinyConfig({ epochs: 1 }), 2);
    expect(testLoss(pooled)).toBeCloseTo(testLoss(single), 4);
    expect(Math.abs(testLoss(pooled) - testLoss(unaveraged))).toBeGreaterThan(1e-3);
  });
});
