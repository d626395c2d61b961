/**
 * plannedImages against what loading really yields: the count it gives before a run is created, for the training
 * split and the test split, must be the count the run's process will load.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importDataset, loadDataset } from '../../src-main/data/index';
import { plannedImages, type PlannedSplit } from '../../src-main/data/planned-images';
import { parseDatasetSpec } from '../../src-main/data/load';
import type { DatasetSpecInput } from '../../src-shared/config';
import { FASHION_DIR, MNIST_DIR, removeDir, tempDir, tinyDatasetFiles, writeDataset } from './fixtures';

let root: string;
let dataDir: string;

beforeEach(async () => {
  root = await tempDir();
  dataDir = path.join(root, 'data');
});
afterEach(() => removeDir(root));

const plan = (spec: DatasetSpecInput, split: PlannedSplit = 'train') => plannedImages(parseDatasetSpec(spec), dataDir, split);
const planned = (spec: DatasetSpecInput, split: PlannedSplit = 'train') => plan(spec, split)?.images;

describe('plannedImages', () => {
  it("is the published split's size for a system copy, as loaded", async () => {
    expect(planned({ kind: 'mnist' })).toBe(60_000);
    expect(planned({ kind: 'mnist' }, 'test')).toBe(10_000);
    const loaded = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [MNIST_DIR], download: false });
    expect([loaded.train.labels.length, loaded.test.labels.length]).toEqual([60_000, 10_000]);
    expect(planned({ kind: 'fashion-mnist' })).toBe(60_000);
    expect(planned({ kind: 'fashion-mnist' }, 'test')).toBe(10_000);
    const fashion = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [FASHION_DIR], download: false });
    expect([fashion.train.labels.length, fashion.test.labels.length]).toEqual([60_000, 10_000]);
  });

  it("is the labels file's count for a dataset of the user's own in the data directory, gzipped or raw", async () => {
    const folder = path.join(root, 'import');
    await mkdir(folder);
    await writeDataset(folder, tinyDatasetFiles(30, 20), ['train-labels-idx1-ubyte']);
    await importDataset('mnist', folder, { dataDir, allowCustom: true });
    expect(planned({ kind: 'mnist' })).toBe(30);
    expect(plan({ kind: 'mnist' }, 'test')).toEqual({ images: 20, customCopy: path.join(dataDir, 'mnist') });
    expect(plan({ kind: 'mnist' })?.customCopy).toBe(path.join(dataDir, 'mnist'));
    expect(plan({ kind: 'fashion-mnist' })?.customCopy).toBeUndefined(); // none here yet

    const raw = path.join(root, 'raw');
    await mkdir(raw);
    await writeDataset(raw, tinyDatasetFiles(45, 25));
    await importDataset('fashion-mnist', raw, { dataDir, allowCustom: true });
    expect(planned({ kind: 'fashion-mnist' })).toBe(45);
    expect(planned({ kind: 'fashion-mnist' }, 'test')).toBe(25);
    // A training subset leaves the test split whole.
    expect(planned({ kind: 'fashion-mnist', trainSubset: 10 }, 'test')).toBe(25);
    const loaded = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [], download: false });
    expect([loaded.train.labels.length, loaded.test.labels.length]).toEqual([45, 25]);
  });

  it('is what the spec says for shapes and for a subset', () => {
    expect(planned({ kind: 'shapes', mode: 'single', trainCount: 120, testCount: 30 })).toBe(120);
    expect(planned({ kind: 'shapes', mode: 'single', trainCount: 120, testCount: 30 }, 'test')).toBe(30);
    expect(planned({ kind: 'shapes' }, 'test')).toBe(6000); // the spec's default
    expect(planned({ kind: 'fashion-mnist', trainSubset: 500 })).toBe(500);
    expect(planned({ kind: 'fashion-mnist', trainSubset: 500 }, 'test')).toBe(10_000);
  });
});
