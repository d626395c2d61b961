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
import { combineShards, GradientWorkerPool, shardRanges, type PoolGradients } from '../../src-main/engine/parallel';
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

  it('matches single-process solves of the same shards (adaptive dopri5, adjoint) and reports each shard', async () => {
    const spec = ModelSpec.parse({
      name: 'odenet-mnist',
      solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' },
    });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    const result: PoolGradients = await p.computeGradients(weightsOf(model), x, labels, shape);
    // Each shard controls its own steps, so the reference is the same shards solved here, combined alike.
    const shards = shardRanges(N, 2).map(({ start, end }) => ({ size: end - start, result: local(model, start, end) }));
    const expected = combineShards(shards.map((s) => ({ size: s.size, result: { ...s.result, tensorBytes: 0, seconds: 0 } })));

    expect(result.loss).toBeCloseTo(expected.loss, 6);
    expect(result.correct).toBe(expected.correct);
    expect(maxRelativeDifference(result.grads, expected.grads)).toBeLessThan(1e-5);
    result.shards.forEach((s, i) => {
      expect(s.odeStats).toEqual(
        shards[i].result.odeStats.map(({ nfeForward, nfeBackward, stepsAccepted, stepsRejected }) => ({
          nfeForward,
          nfeBackward,
          stepsAccepted,
          stepsRejected,
        })),
      );
      // The step sizes the run store keeps: those of the shard's own solve, covering t ∈ [0, 1].
      expect(s.stepSizes).toEqual(shards[i].result.odeStats[0].stepSizes);
      expect(s.stepSizes!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    });
    expect(result.nfeForward).toBe(Math.max(...shards.map((s) => s.result.odeStats[0].nfeForward)));
    expect(result.nfeForward).toBeGreaterThan(6); // adaptive: more than one dopri5 step
    tf.dispose(model.params);
  });

  it('returns a worker LabError with its code and details (maxSteps 1 → MAX_STEPS)', async () => {
    const spec = ModelSpec.parse({ name: 'odenet-mnist', solver: { method: 'dopri5', rtol: 1e-6, atol: 1e-6, maxSteps: 1 } });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    let here: unknown;
    try {
      local(model, 0, 15);
    } catch (e) {
      here = e;
    }
    const there = await p.computeGradients(weightsOf(model), x, labels, shape).catch((e: unknown) => e);
    expect(here).toBeInstanceOf(LabError);
    expect(there).toBeInstanceOf(LabError);
    const [h, t] = [here as LabError, there as LabError];
    expect(t.code).toBe('MAX_STEPS');
    expect(t.message).toBe(h.message);
    expect(t.details).toEqual(h.details);
    tf.dispose(model.params);
  });

  it('rejects the pending and later calls when a worker dies, instead of hanging', async () => {
    const spec = ModelSpec.parse({ name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.05 } });
    const model = buildModel(spec, ctx);
    const p = await pool(spec);
    const pending = p.computeGradients(weightsOf(model), x, labels, shape).catch((e: unknown) => e);
    await p.threads[1].terminate();
    const error = await Promise.race([pending, new Promise((r) => setTimeout(() => r('hung'), 20_000))]);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).code).toBe('WORKER_FAILED');
    expect((error as LabError).message).toMatch(/gradient worker 1 exited/);
    await expect(p.computeGradients(weightsOf(model), x, labels, shape)).rejects.toMatchObject({ code: 'WORKER_FAILED' });
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

describe('trainer with workers', () => {
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
    // Same starting weights and batch: the first step agrees with the single-process one to float32 rounding.
    expect(a.losses[0]).toBeCloseTo(single.losses[0], 5);
    const outline = (events: RunEvent[]) => events.map((e) => [e.event, Object.keys(e).sort()]);
    expect(outline(a.events)).toEqual(outline(single.events));
    expect(a.batches.every((x) => x.nfeForward === 4 && x.nfeBackward === 4)).toBe(true);
    expect(new Set(a.tensors).size).toBe(1); // the main thread's side of a pooled step leaks nothing
  });
});
