/**
 * The trainer on real (generated) shapes data: learning happens, runs are deterministic, resume continues the
 * loss sequence exactly, bad runs end with the right status, and tensors do not leak across batches.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src-main/engine';
import { train, type TrainOptions } from '../../src-main/engine/train/trainer';
import { decodeCheckpoint, encodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { checkEvaluationRequest, evaluateCheckpoint } from '../../src-main/engine/train/evaluate-checkpoint';
import { datasetContentHash, gather, subsetStratified, type Dataset } from '../../src-main/data';
import type { RunConfig } from '../../src-shared/run-config';
import type { BatchEvent, EpochEvent, RunEvent, StartedEvent, TestingProgress } from '../../src-shared/run-events';
import { engineWithTinyDataset, expectedAverage, tinyConfig, tinyShapes } from './fixtures';

let dataset: Dataset;
let backend: string;
beforeAll(async () => {
  ({ backend, dataset } = await engineWithTinyDataset());
});

async function run(config: RunConfig, extra: Partial<TrainOptions> = {}) {
  const events: RunEvent[] = [];
  const tensorsAtBatch: number[] = [];
  const bytesAtBatch: number[] = [];
  const checkpoints: Uint8Array[] = [];
  const ended = await train(config, {
    dataset,
    backend,
    onEvent: (e) => {
      events.push(e);
      if (e.event === 'batch') {
        tensorsAtBatch.push(tf.memory().numTensors);
        bytesAtBatch.push(tf.memory().numBytes);
      }
    },
    saveCheckpoint: (bytes) => {
      checkpoints.push(bytes);
    },
    ...extra,
  });
  const batches = events.filter((e): e is BatchEvent => e.event === 'batch');
  const epochs = events.filter((e): e is EpochEvent => e.event === 'epoch');
  return { ended, events, batches, epochs, tensorsAtBatch, bytesAtBatch, checkpoints };
}

describe('trainer', () => {
  it('lowers the loss on shapes and reports every metric', async () => {
    const { ended, batches, epochs, events, bytesAtBatch } = await run(tinyConfig({ epochs: 3 }));
    expect(ended.status).toBe('completed');
    expect(events[0].event).toBe('started');
    expect(batches).toHaveLength(3 * 4);
    const first = batches.slice(0, 2).reduce((s, b) => s + b.loss, 0) / 2;
    const last = batches.slice(-2).reduce((s, b) => s + b.loss, 0) / 2;
    expect(last).toBeLessThan(0.8 * first);
    for (const b of batches) {
      expect(b.nfeForward).toBe(4); // Euler, step 0.25 over [0, 1]
      expect(b.nfeBackward).toBe(4);
      expect(b.seconds).toBeGreaterThan(0);
    }
    const e = epochs[2];
    // Chance is 1/7, and an untrained model scores 0.11–0.14 on these 70 images; seeds reach 0.57–0.79 here.
    expect(e.testAccuracy).toBeGreaterThan(0.5);
    expect(e.loss).toBeLessThan(epochs[0].loss);
    expect(e.confusion.flat().reduce((a, b) => a + b)).toBe(70);
    expect(e.stepsAccepted).toBe(4 * 4);
    // The peak is taken mid-step (activations and gradients alive): above what stays between batches, which holds
    // at least the weights (float32) and the optimiser's state. The process holds at least its tensors.
    const started = events[0] as StartedEvent;
    expect(Math.min(...bytesAtBatch)).toBeGreaterThanOrEqual(4 * started.parameterCount);
    expect(e.peakTensorBytes).toBeGreaterThan(Math.max(...bytesAtBatch));
    expect(e.rssBytes).toBeGreaterThan(e.peakTensorBytes);
  });

  it('evaluates on a slice of the test set every N batches when asked, saying how far each evaluation has got', async () => {
    const seen: (RunEvent | ({ event: 'testing' } & TestingProgress))[] = [];
    const { events } = await run(tinyConfig({ epochs: 1, evalEvery: 2, evalSize: 30, batchSize: 30 }), {
      onEvent: (e) => seen.push(e),
      onTesting: (p) => seen.push({ event: 'testing', ...p }),
    });
    expect(events).toEqual([]); // all went to `seen`
    const evaluations = seen.filter((e) => e.event === 'evaluation');
    // 8 batches: after batches 2, 4 and 6 (not after batch 8, where the epoch-end evaluation runs anyway).
    expect(evaluations.map((e) => e.step)).toEqual([2, 4, 6]);
    expect(evaluations[0]).toMatchObject({ evaluated: 30 });
    // Progress before each evaluation's result, from 0 to all its images, in batches of 500 (the test set is 70).
    const sequence = seen.filter((e) => e.event !== 'batch').map((e) => (e.event === 'testing' ? `${e.step}:${e.done}/${e.total}` : e.event));
    expect(sequence).toEqual([
      'started',
      ...[2, 4, 6].flatMap((step) => [`${step}:0/30`, `${step}:30/30`, 'evaluation']),
      '8:0/70',
      '8:70/70',
      'epoch',
      'checkpoint',
      'ended',
    ]);
  });

  it('is deterministic: same config and seed give the identical loss sequence', async () => {
    const a = await run(tinyConfig({ epochs: 1 }));
    const b = await run(tinyConfig({ epochs: 1 }));
    expect(b.batches.map((x) => x.loss)).toEqual(a.batches.map((x) => x.loss));
    const c = await run(tinyConfig({ epochs: 1, seed: 12 }));
    expect(c.batches.map((x) => x.loss)).not.toEqual(a.batches.map((x) => x.loss));
  });

  it('resumes from a checkpoint as if never stopped, and a checkpoint can be evaluated', async () => {
    const config = tinyConfig({ epochs: 2, model: { name: 'shapes-odenet', solver: { method: 'rk4', stepSize: 0.5 } } });
    const straight = await run(config);
    const firstHalf = await run(config, { stopAfterEpoch: 1 });
    expect(firstHalf.checkpoints).toHaveLength(1);
    const decoded = decodeCheckpoint(firstHalf.checkpoints[0]);
    expect(decoded.epoch).toBe(1);
    expect(decoded.step).toBe(4);
    const resumed = await run(config, { resumeFrom: firstHalf.checkpoints[0] });
    expect(resumed.batches.map((b) => b.step)).toEqual([5, 6, 7, 8]);
    expect(resumed.batches.map((b) => b.loss)).toEqual(straight.batches.slice(4).map((b) => b.loss));
    const progress: string[] = [];
    const evaluation = await evaluateCheckpoint(straight.checkpoints[1], dataset, { batchSize: 30, onProgress: (done, total) => progress.push(`${done}/${total}`) });
    expect(evaluation.accuracy).toBeCloseTo(straight.epochs[1].testAccuracy, 10);
    expect(progress).toEqual(['0/70', '30/70', '60/70', '70/70']);
    const numTensors = tf.memory().numTensors;
    // (This run trained on every image: it held none out.)
    for (const [field, bad] of [['limit', { limit: 0 }], ['batchSize', { batchSize: 2.5 }], ['split', { split: 'held-out' }]] as const) {
      await expect(evaluateCheckpoint(straight.checkpoints[1], dataset, bad)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        details: { field },
      });
    }
    expect(tf.memory().numTensors).toBe(numTensors); // refused before any model was built
  });

  it('with weight averaging, evaluates and checkpoints the averaged weights, trains exactly as without, and resumes both', async () => {
    const solver = { method: 'rk4', stepSize: 0.5 } as const;
    const plain = tinyConfig({ epochs: 2, model: { name: 'shapes-odenet', solver }, evalEvery: 2, evalSize: 30 });
    const config = tinyConfig({ epochs: 2, model: { name: 'shapes-odenet', solver }, evalEvery: 2, evalSize: 30, emaDecay: 0.5 });
    const [without, straight] = [await run(plain), await run(config)];
    // Averaging only changes what is evaluated: the same losses, the same trained weights.
    expect(straight.batches.map((b) => b.loss)).toEqual(without.batches.map((b) => b.loss));
    // In-epoch evaluations score the average too. (An average of one update is that update's weights, hence
    // evalEvery 2: evaluations after steps 2 and 6.)
    const inEpoch = (r: typeof straight) => r.events.flatMap((e) => (e.event === 'evaluation' ? [e.testLoss] : []));
    expect(inEpoch(straight)).toHaveLength(2);
    inEpoch(straight).forEach((loss, k) => expect(Math.abs(loss - inEpoch(without)[k])).toBeGreaterThan(1e-4));
    const [ckPlain, ckAveraged] = [decodeCheckpoint(without.checkpoints[1]), decodeCheckpoint(straight.checkpoints[1])];
    expect(ckAveraged.weights).toEqual(ckPlain.weights);
    expect(ckPlain.average).toBeUndefined();
    expect(ckAveraged.average?.updates).toBe(8);
    expect(ckAveraged.average?.weights).toHaveLength(ckAveraged.weights.length);
    expect(ckAveraged.average?.weights).not.toEqual(ckAveraged.weights);
    // The run's test figures are the averaged weights'; the trained weights score what the plain run reported.
    const averaged = await evaluateCheckpoint(straight.checkpoints[1], dataset);
    expect(averaged.weights).toBe('averaged');
    expect(averaged.loss).toBeCloseTo(straight.epochs[1].testLoss, 6);
    const trained = await evaluateCheckpoint(straight.checkpoints[1], dataset, { weights: 'trained' });
    expect(trained.loss).toBeCloseTo(without.epochs[1].testLoss, 6);
    expect(Math.abs(trained.loss - averaged.loss)).toBeGreaterThan(1e-4);
    await expect(evaluateCheckpoint(without.checkpoints[1], dataset, { weights: 'averaged' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'weights' },
      message: expect.stringMatching(/has no averaged weights \(the run that wrote it did not average them, emaDecay 0\)/),
    });
    // Resume restores the average too: epoch 2's evaluation and averaged weights come out the same.
    const firstHalf = await run(config, { stopAfterEpoch: 1 });
    const resumed = await run(config, { resumeFrom: firstHalf.checkpoints[0] });
    expect(resumed.epochs[0].testLoss).toBe(straight.epochs[1].testLoss);
    expect(decodeCheckpoint(resumed.checkpoints[0]).average).toEqual(ckAveraged.average);
    // From a checkpoint without an average, an averaging run starts its average there.
    const fromPlain = await run(config, { resumeFrom: without.checkpoints[0] });
    expect(fromPlain.batches.map((b) => b.loss)).toEqual(without.batches.slice(4).map((b) => b.loss));
    expect(decodeCheckpoint(fromPlain.checkpoints[0]).average?.updates).toBe(4);
  });

  it('averages the weights as Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ over its updates', async () => {
    // One update per epoch (a single batch of all 240 images), so each epoch's checkpoint holds one wᵢ.
    const config = tinyConfig({ epochs: 3, batchSize: 240, emaDecay: 0.6 });
    const { checkpoints } = await run(config);
    const decoded = checkpoints.map((bytes) => decodeCheckpoint(bytes));
    decoded.forEach((c, k) => {
      expect(c.average?.updates).toBe(k + 1);
      c.average!.weights.forEach((avg, p) => {
        const expected = expectedAverage(decoded.slice(0, k + 1).map((d) => d.weights[p].data), 0.6);
        const worst = Math.max(...Array.from(avg.data, (x, j) => Math.abs(x - expected[j])));
        expect(worst, `epoch ${k + 1}, tensor ${p}`).toBeLessThan(1e-6);
      });
    });
    // The updates moved the weights, so the check above compares different averages at each epoch.
    expect(decoded[2].average!.weights).not.toEqual(decoded[1].average!.weights);
    // Resumed from a checkpoint without an average, or with one taken at another decay, the average starts
    // there: after epochs 2 and 3 it is w₂ and w₃'s.
    const plain = await run(tinyConfig({ epochs: 3, batchSize: 240 }));
    const otherDecay = tinyConfig({ epochs: 3, batchSize: 240, emaDecay: 0.3 });
    for (const [from, decay, resumed] of [
      ['plain', 0.6, await run(config, { resumeFrom: plain.checkpoints[0] })],
      ['averaged at 0.6', 0.3, await run(otherDecay, { resumeFrom: checkpoints[0] })],
    ] as const) {
      const last = decodeCheckpoint(resumed.checkpoints[1]);
      expect(last.average?.updates, from).toBe(2);
      last.average!.weights.forEach((avg, p) => {
        const expected = expectedAverage([decoded[1].weights[p].data, decoded[2].weights[p].data], decay);
        expect(Math.max(...Array.from(avg.data, (x, j) => Math.abs(x - expected[j]))), `from ${from}, tensor ${p}`).toBeLessThan(1e-6);
      });
    }
    expect(decodeCheckpoint(plain.checkpoints[2]).weights).toEqual(decoded[2].weights); // training is the same
  });

  it('refuses, at once and saying why, a checkpoint whose optimizer state does not fit the run', async () => {
    const adam = await run(tinyConfig({ epochs: 1 }));
    const numTensors = tf.memory().numTensors;
    const sgd = await run(tinyConfig({ epochs: 2, optimizer: { kind: 'sgd', lr: 0.01 } }), { resumeFrom: adam.checkpoints[0] });
    expect(sgd.ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'optimizer', resuming: true } } });
    expect(sgd.ended.error?.message).toMatch(/optimizer state has \d+ tensors, this run's sgd \(momentum 0\) optimizer 0/);
    expect(sgd.batches).toHaveLength(0);
    expect(sgd.ended).toMatchObject({ epochsCompleted: 1, step: 4 }); // where the run stood
    // The right number of state tensors in the wrong order (a corrupt file): their shapes do not fit.
    const decoded = decodeCheckpoint(adam.checkpoints[0]);
    const shuffled = encodeCheckpoint({ ...decoded, optimizer: { ...decoded.optimizer, tensors: [...decoded.optimizer.tensors].reverse() } });
    const corrupt = await run(tinyConfig({ epochs: 2 }), { resumeFrom: shuffled });
    expect(corrupt.ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'optimizer' } } });
    expect(corrupt.ended.error?.message).toMatch(/optimizer state tensor 0 has shape \[[\d,]+\], this run's \[[\d,]+\]/);
    expect(tf.memory().numTensors).toBe(numTensors);
  });

  it("scores a --train-size run on the training images it held out, and only on unseen ones", async () => {
    const config = tinyConfig({ epochs: 1, trainSize: 120 });
    const { checkpoints } = await run(config);
    const trained = new Set(subsetStratified(dataset.train, 120, config.seed).indices);
    const unseen = Array.from({ length: 240 }, (_, i) => i).filter((i) => !trained.has(i));
    expect(unseen).toHaveLength(120);
    const heldOut = await evaluateCheckpoint(checkpoints[0], dataset, { split: 'held-out' });
    // The same as scoring those 120 images as a test split, with misclassified images numbered in the training split.
    const asTest = await evaluateCheckpoint(checkpoints[0], { ...dataset, test: gather(dataset.train, unseen) });
    expect(heldOut).toMatchObject({ split: 'held-out', count: 120, loss: asTest.loss, confusion: asTest.confusion });
    expect(heldOut.misclassified).toEqual(asTest.misclassified.map((k) => unseen[k]));
    expect(heldOut.misclassified.length).toBeGreaterThan(0);
    // Only in the very dataset the run trained on: one changed training pixel and the held-out images are unknown.
    expect(decodeCheckpoint(checkpoints[0]).datasetHash).toBe(datasetContentHash(dataset));
    const changed = { ...dataset, train: { ...dataset.train, images: dataset.train.images.slice() } };
    changed.train.images[0] ^= 1;
    await expect(evaluateCheckpoint(checkpoints[0], changed, { split: 'held-out' })).rejects.toThrow(
      /the dataset loaded for this run's spec is not the one it trained on \(content hash [0-9a-f]{12}…, the run's [0-9a-f]{12}…\)/,
    );
    // A run on every image held none out.
    await expect(
      evaluateCheckpoint((await run(tinyConfig({ epochs: 1, trainSize: 240 }))).checkpoints[0], dataset, { split: 'held-out' }),
    ).rejects.toThrow(/split 'held-out' needs a run trained on part of its 240 training images \(trainSize below that\); this run's trainSize is 240/);
    // More than there are: refused before the first batch, naming the field.
    const tooMany = await run(tinyConfig({ epochs: 1, trainSize: 241 }));
    expect(tooMany.batches).toHaveLength(0);
    expect(tooMany.ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'trainSize' } } });
    expect(tooMany.ended.error?.message).toMatch(/trainSize 241 is more than the 240 training images of/);
    // A run without trainSize is refused from its checkpoint alone, before a dataset is loaded.
    const allImages = { ...decodeCheckpoint(checkpoints[0]), config: { ...config, trainSize: undefined } };
    expect(() => checkEvaluationRequest(allImages, { split: 'held-out', name: 'epoch-001.ckpt' })).toThrow(
      /split 'held-out' needs a run trained on part of its training images \(trainSize\); epoch-001.ckpt trained on all of them/,
    );
    expect(checkEvaluationRequest(allImages, { split: 'train' })).toBe('trained');
    // Continued with the same config (runs resume): still unseen. From a checkpoint of another subset: refused.
    const same = await run(tinyConfig({ epochs: 2, trainSize: 120 }), { resumeFrom: checkpoints[0] });
    expect((await evaluateCheckpoint(same.checkpoints[0], dataset, { split: 'held-out' })).count).toBe(120);
    const other = await run(tinyConfig({ epochs: 2, trainSize: 120, seed: 12 }), { resumeFrom: checkpoints[0] });
    expect(decodeCheckpoint(other.checkpoints[0]).trainedOn).toHaveLength(2);
    await expect(evaluateCheckpoint(other.checkpoints[0], dataset, { split: 'held-out' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { field: 'split' },
      message: expect.stringMatching(/continued from a checkpoint trained on other images \(shapes, trainSize 120, seed 11\)/),
    });
  });

  /** The tiny dataset with one training pixel changed: the same spec, another copy (another content hash). */
  function otherCopy(): Dataset {
    const changed = { ...dataset, train: { ...dataset.train, images: dataset.train.images.slice() } };
    changed.train.images[0] ^= 1;
    return changed;
  }

  it('refuses to continue a run (runs resume) on another copy of its dataset, before its first batch; a new run from the checkpoint is told', async () => {
    const config = tinyConfig({ epochs: 2 });
    const [checkpoint] = (await run(config, { stopAfterEpoch: 1 })).checkpoints;
    const other = otherCopy();
    const [trained, loaded] = [datasetContentHash(dataset), datasetContentHash(other)];
    expect(decodeCheckpoint(checkpoint).datasetHash).toBe(trained);
    const numTensors = tf.memory().numTensors;

    const refused = await run(config, { dataset: other, resumeFrom: checkpoint, continuing: true });
    // Not even 'started': the store would have recorded the other copy as the run's dataset.
    expect(refused.events.map((e) => e.event)).toEqual(['ended']);
    expect(refused.ended).toMatchObject({
      status: 'failed',
      epochsCompleted: 1,
      step: 4,
      error: { code: 'DATASET_CHANGED', details: { field: 'dataset', dataset: dataset.name, trained, loaded, resuming: true } },
    });
    const message = refused.ended.error!.message;
    expect(message).toContain(`this run's checkpoint (epoch 1) was trained on a copy of ${dataset.name} with content hash ${trained.slice(0, 12)}…`);
    expect(message).toContain(`has ${loaded.slice(0, 12)}…`);
    expect(message).toMatch(/odelab datasets list shows where .* is loaded from.*odelab runs checkpoint <this run's id> --epoch 1 --out <file>, then odelab train --resume <file>$/);
    expect(refused.checkpoints).toHaveLength(0);
    expect(tf.memory().numTensors).toBe(numTensors);

    // On the copy it trained on, the run goes on as before, saying nothing.
    const same = await run(config, { resumeFrom: checkpoint, continuing: true });
    expect(same.ended.status).toBe('completed');
    expect(same.events[0]).not.toHaveProperty('datasetNote');

    // A new run from the checkpoint (train --resume) may fine-tune on other images: it trains, and says so.
    const fresh = await run(config, { dataset: other, resumeFrom: checkpoint });
    expect(fresh.ended.status).toBe('completed');
    expect(fresh.batches.map((b) => b.step)).toEqual([5, 6, 7, 8]);
    const started = fresh.events[0];
    expect(started.event === 'started' && started.datasetNote).toBe(
      `the checkpoint this run starts from was trained on a copy of ${dataset.name} with content hash ${trained.slice(0, 12)}…; ` +
        `the copy loaded now (generated) has ${loaded.slice(0, 12)}…: ` +
        'this run trains on other images than its weights were trained on',
    );
    expect(decodeCheckpoint(fresh.checkpoints[0]).datasetHash).toBe(loaded);

    // A checkpoint written before the hash was kept is not judged, either way.
    const old = encodeCheckpoint({ ...decodeCheckpoint(checkpoint), datasetHash: undefined });
    expect(decodeCheckpoint(old).datasetHash).toBeUndefined();
    const fromOld = await run(config, { dataset: other, resumeFrom: old, continuing: true });
    expect(fromOld.ended.status).toBe('completed');
    expect(fromOld.events[0]).not.toHaveProperty('datasetNote');
  });

  it('evaluates a checkpoint on another copy of its dataset, saying so; on its own copy, or an old checkpoint, without a word', async () => {
    const [checkpoint] = (await run(tinyConfig({ epochs: 1 }))).checkpoints;
    const other = otherCopy();
    const [trained, loaded] = [datasetContentHash(dataset), datasetContentHash(other)];
    for (const split of ['test', 'train'] as const) {
      const result = await evaluateCheckpoint(checkpoint, other, { name: 'run 3, epoch 1', split, limit: 30 });
      expect(result).toMatchObject({ split, count: 30, datasetHash: loaded, trainedOnDatasetHash: trained });
      expect(result.warnings).toEqual([
        `run 3, epoch 1 was trained on a copy of ${dataset.name} with content hash ${trained.slice(0, 12)}…; the copy loaded ` +
          `now (generated) has ${loaded.slice(0, 12)}…: these scores are on other images than ` +
          `the run's own; to score it on those, put back the copy it trained on (odelab datasets list shows where ` +
          `${dataset.name} is loaded from; remove or replace that copy)`,
      ]);
    }
    const own = await evaluateCheckpoint(checkpoint, dataset, { limit: 30 });
    expect(own).toMatchObject({ datasetHash: trained, trainedOnDatasetHash: trained, warnings: [] });
    const old = await evaluateCheckpoint(encodeCheckpoint({ ...decodeCheckpoint(checkpoint), datasetHash: undefined }), other, { limit: 30 });
    expect(old).toMatchObject({ datasetHash: loaded, warnings: [] });
    expect(old).not.toHaveProperty('trainedOnDatasetHash');
  });

  it('keeps the tensor count flat across batches', async () => {
    const { tensorsAtBatch } = await run(tinyConfig({ epochs: 2, model: { name: 'shapes-odenet', solver: { method: 'dopri5', gradient: 'adjoint' } } }));
    expect(new Set(tensorsAtBatch.slice(1)).size).toBe(1);
  });

  it('ends diverged at once when the loss is not finite, saying where', async () => {
    const { ended, batches } = await run(
      tinyConfig({ model: { name: 'mlp' }, optimizer: { kind: 'sgd', lr: 1e12 }, epochs: 3 }),
    );
    expect(ended.status).toBe('diverged');
    expect(ended.error?.code).toBe('NON_FINITE');
    expect(ended.error?.details?.step).toBe(batches.length + 1);
    expect(ended.error?.message).toMatch(/epoch \d+, batch \d+/);
  });

  it('ends diverged, not failed, when the weights blow up with every batch loss still finite (the evaluation says so)', async () => {
    const { ended, batches } = await run(tinyConfig({ optimizer: { kind: 'sgd', lr: 1e5 }, epochs: 1 }));
    expect(batches.map((b) => b.loss).every(Number.isFinite)).toBe(true);
    expect(ended).toMatchObject({ status: 'diverged', error: { code: 'NON_FINITE', details: { epoch: 1, step: batches.length, evaluating: true } } });
    expect(ended.error?.message).toMatch(/^evaluating at epoch 1, step \d+: the euler solution became NaN or infinite/);
  });

  it('ends diverged, without an epoch or a checkpoint, when an update blows up the weights of a model without an ODE', async () => {
    // One batch per epoch: its loss is computed on the initial weights (finite); its update is what overflows.
    const { ended, batches, epochs, checkpoints } = await run(
      tinyConfig({ model: { name: 'mlp' }, optimizer: { kind: 'sgd', lr: 1e38 }, batchSize: tinyShapes.trainCount }),
    );
    expect(batches).toHaveLength(1);
    expect(Number.isFinite(batches[0].loss)).toBe(true);
    expect(epochs).toEqual([]);
    expect(checkpoints).toEqual([]);
    expect(ended).toMatchObject({ status: 'diverged', error: { code: 'NON_FINITE', details: { epoch: 1, step: 1, evaluating: true } } });
    // Weights of ~1e38 may still be finite, with logits that overflow: then the test loss is what is NaN.
    expect(ended.error?.message).toMatch(
      /^(the weights became non-finite \((NaN|-?Infinity) in parameter \d+, \S+\)|the test loss became NaN) by the end of epoch 1 \(step 1\); lower the learning rate$/,
    );
  });

  it('ends failed with the engine error and where it happened', async () => {
    const { ended } = await run(
      tinyConfig({ model: { name: 'shapes-odenet', solver: { method: 'dopri5', rtol: 1e-9, atol: 1e-9, maxSteps: 3 } } }),
    );
    expect(ended.status).toBe('failed');
    expect(ended.error?.code).toBe('MAX_STEPS');
    expect(ended.error?.details).toMatchObject({ epoch: 1, batch: 1, maxSteps: 3 });
    expect(ended.error?.message).toMatch(/^dopri5 /); // the bare reason: displays put the code before it, once
  });

  it('ends failed, saying where, when something outside the engine breaks (a checkpoint write)', async () => {
    const { ended } = await run(tinyConfig({ epochs: 2 }), {
      saveCheckpoint: () => {
        throw new Error('disk full');
      },
    });
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatchObject({ code: 'INTERNAL', message: 'disk full', details: { epoch: 1, step: 4 } });
    expect(ended.epochsCompleted).toBe(1);
  });

  /** A 3-epoch tiny run (4 batches per epoch) cancelled from the batch event of `step`. */
  async function cancelledAt(step: number) {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const ended = await train(tinyConfig({ epochs: 3 }), {
      dataset,
      backend,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.event === 'batch' && e.step === step) controller.abort();
      },
    });
    return { ended, events };
  }

  it('stops between batches when cancelled', async () => {
    const { ended, events } = await cancelledAt(2);
    expect(ended.status).toBe('cancelled');
    expect(ended.step).toBe(2);
    expect(events.filter((e) => e.event === 'batch')).toHaveLength(2);
  });

  it('stops in the epoch-end evaluation when cancelled there, without finishing the epoch', async () => {
    const before = tf.memory().numTensors;
    // The epoch's last batch: the evaluation comes next.
    const { ended, events } = await cancelledAt(4);
    expect(ended.status).toBe('cancelled');
    expect(ended.error).toBeUndefined();
    expect(ended.epochsCompleted).toBe(0);
    expect(events.some((e) => e.event === 'epoch')).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });
});
