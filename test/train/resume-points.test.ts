/**
 * Resume points: a run cancelled (or saved periodically) inside an epoch and resumed from that point trains the
 * same batches, to the bit, and reports the same epochs as a run never stopped; no resume point holds NaN; no tensor
 * leaks. So does odenet_mnist.py's recipe: crop augmentation and a step learning-rate schedule. Real engine, tiny
 * generated shapes (4 batches of 60 per epoch).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src-main/engine';
import { train, type ResumePointAt, type TrainOptions } from '../../src-main/engine/train/trainer';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { evaluate } from '../../src-main/engine/train/evaluate';
import { loadWeights } from '../../src-main/engine/train/weights';
import { buildModel } from '../../src-main/engine/models';
import type { Dataset } from '../../src-main/data';
import type { RunConfig } from '../../src-shared/run-config';
import type { BatchEvent, CheckpointEvent, EpochEvent, RunEvent, StartedEvent } from '../../src-shared/run-events';
import { engineWithTinyDataset, tinyConfig, tinyShapes } from './fixtures';

let dataset: Dataset;
let backend: string;
beforeAll(async () => {
  ({ backend, dataset } = await engineWithTinyDataset());
});

/** A run with every callback recorded; `cancelAtStep` aborts from that step's batch event. */
async function run(config: RunConfig, extra: Partial<TrainOptions> & { cancelAtStep?: number } = {}) {
  const { cancelAtStep, ...options } = extra;
  const controller = new AbortController();
  const events: RunEvent[] = [];
  const tensorsAtBatch: number[] = [];
  const resumePoints: { bytes: Uint8Array; at: ResumePointAt }[] = [];
  const checkpointBytes: Uint8Array[] = [];
  const ended = await train(config, {
    dataset,
    backend,
    signal: controller.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.event === 'batch') tensorsAtBatch.push(tf.memory().numTensors);
      if (e.event === 'batch' && e.step === cancelAtStep) controller.abort();
    },
    saveCheckpoint: (bytes) => {
      checkpointBytes.push(bytes);
    },
    saveResumePoint: (bytes, at) => {
      resumePoints.push({ bytes, at });
    },
    ...options,
  });
  const batches = events.filter((e): e is BatchEvent => e.event === 'batch');
  const epochs = events.filter((e): e is EpochEvent => e.event === 'epoch');
  const checkpoints = events.filter((e): e is CheckpointEvent => e.event === 'checkpoint');
  return { ended, events, batches, epochs, checkpoints, checkpointBytes, resumePoints, tensorsAtBatch };
}

/** An epoch event without what depends on the clock or the process (seconds, RSS). */
const timeless = ({ seconds: _s, rssBytes: _r, ...rest }: EpochEvent) => rest;

// Adam and a weight average: both must be restored for the losses and the scored weights to match.
const config = tinyConfig({ epochs: 2, emaDecay: 0.9, model: { name: 'shapes-odenet', solver: { method: 'rk4', stepSize: 0.5 } } });

describe('resume points', () => {
  let straight: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    straight = await run(config);
  });

  it('cancelled mid-epoch, saves where it stood; resumed from there, trains and reports exactly what an uninterrupted run does', async () => {
    expect(straight.resumePoints).toEqual([]); // no period, no cancel: epoch ends only
    const before = tf.memory().numTensors;
    // Step 6: batch 2 of epoch 2.
    const cut = await run(config, { cancelAtStep: 6 });
    expect(cut.ended).toMatchObject({ status: 'cancelled', step: 6, epochsCompleted: 1 });
    expect(cut.resumePoints.map((r) => r.at)).toEqual([{ epoch: 2, batch: 2, step: 6 }]);
    expect(cut.checkpoints.at(-1)).toEqual({ event: 'checkpoint', epoch: 2, batch: 2, step: 6, bytes: cut.resumePoints[0].bytes.length });
    expect(cut.events.at(-2)).toBe(cut.checkpoints.at(-1)); // saved, then ended
    expect(tf.memory().numTensors).toBe(before);
    const point = decodeCheckpoint(cut.resumePoints[0].bytes);
    expect(point).toMatchObject({ epoch: 1, step: 6, position: { batches: 2, nfeForward: [8, 8] }, average: { updates: 6 } });

    const resumed = await run(config, { resumeFrom: cut.resumePoints[0].bytes });
    expect(resumed.events[0]).toMatchObject({ event: 'started', startEpoch: 1, startStep: 6, startBatch: 2 } satisfies Partial<StartedEvent>);
    expect(resumed.batches.map((b) => [b.epoch, b.batch, b.step])).toEqual([
      [2, 3, 7],
      [2, 4, 8],
    ]);
    expect(resumed.batches.map((b) => b.loss)).toEqual(straight.batches.slice(6).map((b) => b.loss));
    expect(resumed.epochs.map(timeless)).toEqual(straight.epochs.slice(1).map(timeless));
    // The epoch's seconds go on from the point's, not from the resume.
    expect(resumed.epochs[0].seconds).toBeGreaterThan(point.position!.seconds);
    expect(resumed.ended).toMatchObject({ status: 'completed', step: 8, epochsCompleted: 2 });
    expect(new Set(resumed.tensorsAtBatch).size).toBe(1);
  });

  it('cancelled in the epoch-end scoring, saves every batch of the epoch done: resumed, it only scores again', async () => {
    // Step 4, the first epoch's last batch: the cancel lands in the test-set evaluation that follows.
    const cut = await run(config, { cancelAtStep: 4 });
    expect(cut.ended).toMatchObject({ status: 'cancelled', step: 4, epochsCompleted: 0 });
    expect(cut.epochs).toEqual([]);
    expect(cut.resumePoints.map((r) => r.at)).toEqual([{ epoch: 1, batch: 4, step: 4 }]);
    const resumed = await run(config, { resumeFrom: cut.resumePoints[0].bytes });
    expect(resumed.events.map((e) => e.event).slice(0, 4)).toEqual(['started', 'epoch', 'checkpoint', 'batch']);
    expect(resumed.epochs.map(timeless)).toEqual(straight.epochs.map(timeless));
    expect(resumed.batches.map((b) => b.loss)).toEqual(straight.batches.slice(4).map((b) => b.loss));
  });

  it('cancelled in an in-epoch evaluation (evalEvery), leaves it pending: resumed, does it first, as the uninterrupted run did', async () => {
    const evaluating = { ...config, evalEvery: 3, evalSize: 30 };
    const evaluations = (r: Awaited<ReturnType<typeof run>>) => r.events.filter((e) => e.event === 'evaluation');
    const uncut = await run(evaluating);
    expect(evaluations(uncut).map((e) => e.step)).toEqual([3, 6]);
    // The cancel comes with step 3's batch event: it lands in the evaluation that follows.
    const cut = await run(evaluating, { cancelAtStep: 3 });
    expect(evaluations(cut)).toEqual([]);
    expect(cut.resumePoints.map((r) => r.at)).toEqual([{ epoch: 1, batch: 3, step: 3 }]);
    expect(decodeCheckpoint(cut.resumePoints[0].bytes).position).toMatchObject({ batches: 3, evaluationPending: true });
    const resumed = await run(evaluating, { resumeFrom: cut.resumePoints[0].bytes });
    expect(resumed.events.map((e) => e.event).slice(0, 3)).toEqual(['started', 'evaluation', 'batch']);
    expect(evaluations(resumed)).toEqual(evaluations(uncut));
    expect(resumed.batches.map((b) => b.loss)).toEqual(uncut.batches.slice(3).map((b) => b.loss));
    // Cancelled between batches instead, nothing is pending: the point after step 4 resumes without evaluating.
    const between = await run(evaluating, { cancelAtStep: 4 });
    expect(decodeCheckpoint(between.resumePoints[0].bytes).position?.evaluationPending).toBeUndefined();
  });

  it('every so many minutes saves a resume point after the batch that ends the period; any of them resumes exactly', async () => {
    // A period shorter than any batch: a resume point after every batch, the epochs' last ones too (their scoring may be long).
    const periodic = await run(config, { resumePointMinutes: 1e-9 });
    expect(periodic.resumePoints.map((r) => r.at.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(periodic.batches.map((b) => b.loss)).toEqual(straight.batches.map((b) => b.loss));
    const third = periodic.resumePoints[2];
    expect(third.at).toEqual({ epoch: 1, batch: 3, step: 3 });
    const resumed = await run(config, { resumeFrom: third.bytes });
    expect(resumed.batches.map((b) => b.loss)).toEqual(straight.batches.slice(3).map((b) => b.loss));
    expect(resumed.epochs.map(timeless)).toEqual(straight.epochs.map(timeless));
    // An hour's period saves none in a run this short; a cancel right after an epoch's checkpoint has nothing new.
    expect((await run(config, { resumePointMinutes: 60 })).resumePoints).toEqual([]);
  });

  it('resumed and cancelled again before a new batch, saves nothing new (its resume point stands)', async () => {
    const cut = await run(config, { cancelAtStep: 2 });
    const controller = new AbortController();
    controller.abort();
    const again = await run(config, { resumeFrom: cut.resumePoints[0].bytes, signal: controller.signal });
    expect(again.ended).toMatchObject({ status: 'cancelled', step: 2 });
    expect(again.resumePoints).toEqual([]);
  });

  it('never saves a resume point of weights that blew up', async () => {
    // One batch per epoch, its loss finite on the initial weights; its update, w·(1 − lr·decay), makes them infinite.
    const blownUp = tinyConfig({ model: { name: 'mlp' }, optimizer: { kind: 'adamw', lr: 1e30, weightDecay: 1e20 }, batchSize: tinyShapes.trainCount });
    const blown = await run(blownUp, {
      resumePointMinutes: 1e-9,
    });
    expect(blown.batches).toHaveLength(1);
    expect(blown.resumePoints).toEqual([]);
    expect(blown.ended).toMatchObject({ status: 'diverged', error: { message: expect.stringMatching(/^the weights became non-finite/) } });
  });

  it('refuses a resume point for a run whose epoch has fewer batches, before the first', async () => {
    const cut = await run(config, { cancelAtStep: 4 });
    const fewer = await run({ ...config, trainSize: 120 }, { resumeFrom: cut.resumePoints[0].bytes });
    expect(fewer.batches).toEqual([]);
    expect(fewer.ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'checkpoint', resuming: true } } });
    expect(fewer.ended.error!.message).toBe('the checkpoint is a resume point after batch 4 of epoch 1, which has 2 batches here');
  });
});

describe("odenet_mnist.py's recipe: crop augmentation and a step schedule", () => {
  // SGD with momentum, ×0.1 after epochs 1 and 2, random crops of the images padded by 4: what paper-odenet trains with.
  const recipe = (epochs: number, overrides: Partial<RunConfig> = {}) =>
    tinyConfig({
      epochs,
      augment: 'crop',
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, schedule: 'step', milestones: [1, 2] },
      model: { name: 'shapes-odenet', solver: { method: 'rk4', stepSize: 0.5 } },
      ...overrides,
    });
  let straight: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    straight = await run(recipe(3));
  });

  it('resumed from a resume point mid-epoch or an epoch checkpoint, trains the same crops at the same rates, to the bit', async () => {
    expect(straight.ended).toMatchObject({ status: 'completed', step: 12 });
    // Step 6: batch 2 of epoch 2, after the first decay; the resumed run goes through the second (update 9).
    const cut = await run(recipe(3), { cancelAtStep: 6 });
    expect(cut.resumePoints.map((r) => r.at)).toEqual([{ epoch: 2, batch: 2, step: 6 }]);
    const resumed = await run(recipe(3), { resumeFrom: cut.resumePoints[0].bytes });
    expect(resumed.batches.map((b) => b.loss)).toEqual(straight.batches.slice(6).map((b) => b.loss));
    expect(resumed.epochs.map(timeless)).toEqual(straight.epochs.slice(1).map(timeless));
    // train --resume of a 2-epoch run's last checkpoint with --epochs 3: the milestones are epochs of the whole
    // run, not of its length, so the third epoch trains as in a run planned for 3 from the start (cosine would not).
    const shorter = await run(recipe(2));
    expect(shorter.batches.map((b) => b.loss)).toEqual(straight.batches.slice(0, 8).map((b) => b.loss));
    const longer = await run(recipe(3), { resumeFrom: shorter.checkpointBytes.at(-1) });
    expect(longer.batches.map((b) => b.loss)).toEqual(straight.batches.slice(8).map((b) => b.loss));
  });

  it('augments: other losses than the uncropped images give, from the first batch', async () => {
    const plain = await run(recipe(1, { augment: 'none' }));
    const cropped = straight.batches.slice(0, 4).map((b) => b.loss);
    // Every batch, the first included (same initial weights): the inputs differ.
    plain.batches.forEach((b, i) => expect(b.loss).not.toBe(cropped[i]));
  });

  it('decays from the first update of the epoch after a milestone: the losses part from a constant rate at batch 6', async () => {
    const constant = await run(recipe(2, { optimizer: { ...recipe(2).optimizer, schedule: 'constant', milestones: [] } }));
    const losses = (r: typeof constant) => r.batches.map((b) => b.loss);
    // Batch 5's loss is taken before update 5, the first at lr·0.1; batch 6's after it.
    expect(losses(constant).slice(0, 5)).toEqual(losses(straight).slice(0, 5));
    expect(losses(constant)[5]).not.toBe(losses(straight)[5]);
  });

  it('scores the test images uncropped: the epoch\'s test loss is the plain images\' under its checkpoint\'s weights', async () => {
    const before = tf.memory().numTensors;
    const checkpoint = decodeCheckpoint(straight.checkpointBytes[0]);
    const config = recipe(3);
    const model = buildModel(config.model, { classes: dataset.classes.length, imageShape: dataset.imageShape, seed: config.seed });
    loadWeights(model, checkpoint.weights);
    const plain = await evaluate(model, dataset.test, { classes: dataset.classes.length, imageShape: dataset.imageShape, normalisation: 'unit', batchSize: 500 });
    tf.dispose(model.params);
    expect(plain.loss).toBe(straight.epochs[0].testLoss);
    expect(tf.memory().numTensors).toBe(before);
  });
});
