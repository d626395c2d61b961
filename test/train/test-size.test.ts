/**
 * --test-size (config testSize): each epoch's end scores a stratified, seeded subset of the test split, the same
 * images every epoch and on resume, with misclassified images numbered in the test split. On real generated shapes
 * (70 test images, 7 classes) and the real engine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { testIndices, testingSplit, train, type TrainOptions } from '../../src-main/engine/train/trainer';
import { evaluateCheckpoint } from '../../src-main/engine/train/evaluate-checkpoint';
import { gather, stratifiedIndices, type Dataset } from '../../src-main/data';
import { proportionalQuotas } from '../../src-main/data/subset';
import type { RunConfig } from '../../src-shared/run-config';
import type { BatchEvent, EpochEvent, EvaluationEvent, RunEvent, StartedEvent } from '../../src-shared/run-events';
import { engineWithTinyDataset, tinyConfig } from './fixtures';

let dataset: Dataset;
let backend: string;
beforeAll(async () => {
  ({ backend, dataset } = await engineWithTinyDataset());
});

async function run(config: RunConfig, extra: Partial<TrainOptions> = {}) {
  const events: RunEvent[] = [];
  const checkpoints: Uint8Array[] = [];
  const ended = await train(config, { dataset, backend, onEvent: (e) => events.push(e), saveCheckpoint: (b) => void checkpoints.push(b), ...extra });
  const of = <E extends RunEvent>(kind: E['event']) => events.filter((e): e is E => e.event === kind);
  return { ended, checkpoints, started: of<StartedEvent>('started')[0], batches: of<BatchEvent>('batch'), epochs: of<EpochEvent>('epoch'), evaluations: of<EvaluationEvent>('evaluation') };
}

/** What an epoch scored on the test images, without what varies from run to run (time, memory). */
const tested = (e: EpochEvent) => ({ testLoss: e.testLoss, testAccuracy: e.testAccuracy, confusion: e.confusion, misclassified: e.misclassified, testNfeForwardMean: e.testNfeForwardMean });

const classCounts = (labels: ArrayLike<number>, classes: number) => {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
};

describe('testSize: the test images an epoch scores', () => {
  it('is a stratified subset of N test images, the same for the same seed, as stratifiedIndices gives', () => {
    const config = tinyConfig({ testSize: 35 });
    const indices = testIndices(config, dataset)!;
    expect(indices).toHaveLength(35);
    expect(testIndices(tinyConfig({ testSize: 35 }), dataset)).toEqual(indices);
    expect(indices).toEqual(stratifiedIndices(dataset.test.labels, 35, config.seed));
    expect(testIndices(tinyConfig({ testSize: 35, seed: 12 }), dataset)).not.toEqual(indices);
    // Ascending, distinct, inside the test split; each class its proportional share.
    expect(Array.from(indices).every((i, k) => i < dataset.test.labels.length && (k === 0 || i > indices[k - 1]))).toBe(true);
    const classes = dataset.classes.length;
    const subset = testingSplit(config, dataset);
    expect(subset.indices).toEqual(indices);
    expect(classCounts(subset.labels, classes)).toEqual(proportionalQuotas(classCounts(dataset.test.labels, classes), 35));
    expect(subset.labels).toEqual(gather(dataset.test, indices).labels);
    // Unset, or the whole split: the test split itself.
    expect(testIndices(tinyConfig(), dataset)).toBeUndefined();
    expect(testingSplit(tinyConfig({ testSize: 70 }), dataset)).toBe(dataset.test);
  });

  it('scores each epoch on exactly N images, deterministically, resumes with them, and numbers misclassified images in the test split', async () => {
    const config = tinyConfig({ epochs: 2, testSize: 35, evalEvery: 2 });
    const [a, b] = [await run(config), await run(config)];
    expect(a.ended.status).toBe('completed');
    expect(a.started.testSize).toBe(35);
    for (const e of a.epochs) expect(e.confusion.flat().reduce((x, y) => x + y)).toBe(35);
    expect(b.epochs.map(tested)).toEqual(a.epochs.map(tested));
    // In-epoch evaluations (evalEvery) take the first evalSize (1000) of the subset: all 35.
    expect(a.evaluations.map((e) => [e.step, e.evaluated])).toEqual([[2, 35], [6, 35]]);

    // Training is what it was without testSize: only the scoring differs.
    const plain = await run(tinyConfig({ epochs: 2, evalEvery: 2 }));
    expect(a.batches.map((x) => x.loss)).toEqual(plain.batches.map((x) => x.loss));
    expect(plain.started.testSize).toBe(70);

    // The subset's misclassified images, numbered in the test split: scored directly, each of them is wrong and
    // every other subset image right.
    const last = a.epochs[1];
    const subset = Array.from(testIndices(config, dataset)!);
    expect(last.misclassified.length).toBe(Math.round(35 * (1 - last.testAccuracy)));
    expect(last.misclassified.length).toBeGreaterThan(0);
    expect(last.misclassified.every((i) => subset.includes(i))).toBe(true);
    const right = subset.filter((i) => !last.misclassified.includes(i));
    const score = (indices: number[]) => evaluateCheckpoint(a.checkpoints[1], { ...dataset, test: gather(dataset.test, indices) });
    expect(await score(last.misclassified)).toMatchObject({ accuracy: 0, count: last.misclassified.length });
    expect(await score(right)).toMatchObject({ accuracy: 1, count: right.length });
    // The whole test split scored by `odelab eval`: the subset's misclassified images are among its own.
    const whole = await evaluateCheckpoint(a.checkpoints[1], dataset);
    expect(whole.misclassified.filter((i) => subset.includes(i))).toEqual(last.misclassified);

    // Resumed from epoch 1 (the checkpoint holds the config), epoch 2 scores the same images as straight through.
    const first = await run(config, { stopAfterEpoch: 1 });
    const resumed = await run(config, { resumeFrom: first.checkpoints[0] });
    expect(resumed.started.testSize).toBe(35);
    expect(resumed.epochs.map(tested)).toEqual([tested(last)]);
  });

  it('without testSize, or with the whole split, scores the whole test split as before', async () => {
    const plain = await run(tinyConfig({ epochs: 1 }));
    const whole = await run(tinyConfig({ epochs: 1, testSize: 70 }));
    expect(plain.epochs[0].confusion.flat().reduce((x, y) => x + y)).toBe(70);
    expect(whole.epochs.map(tested)).toEqual(plain.epochs.map(tested));
  });

  it('refuses more test images than the split has, before the first batch, naming the field', async () => {
    const tooMany = await run(tinyConfig({ epochs: 1, testSize: 71 }));
    expect(tooMany.batches).toHaveLength(0);
    expect(tooMany.ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'testSize', testSize: 71 } } });
    expect(tooMany.ended.error?.message).toMatch(/^testSize 71 is more than the 70 test images of /);
  });
});
