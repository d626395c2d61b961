/**
 * plannedTrainImages against what loading really yields: the count it gives before a run is created must be the
 * count the run's process will load.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importDataset, loadDataset } from '../../src-main/data/index';
import { plannedTrainImages } from '../../src-main/data/train-images';
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

const plan = (spec: DatasetSpecInput) => plannedTrainImages(parseDatasetSpec(spec), dataDir);
const planned = (spec: DatasetSpecInput) => plan(spec)?.images;

describe('plannedTrainImages', () => {
  it("is the published split's size for a system copy, as loaded", async () => {
    expect(planned({ kind: 'mnist' })).toBe(60_000);
    const loaded = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [MNIST_DIR], download: false });
    expect(loaded.train.labels.length).toBe(60_000);
    expect(planned({ kind: 'fashion-mnist' })).toBe(60_000);
    const fashion = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [FASHION_DIR], download: false });
    expect(fashion.train.labels.length).toBe(60_000);
  });

  it("is the labels file's count for a dataset of the user's own in the data directory, gzipped or raw", async () => {
    const folder = path.join(root, 'import');
    await mkdir(folder);
    await writeDataset(folder, tinyDatasetFiles(30, 20), ['train-labels-idx1-ubyte']);
    await importDataset('mnist', folder, { dataDir, allowCustom: true });
    expect(planned({ kind: 'mnist' })).toBe(30);
    expect(plan({ kind: 'mnist' })?.customCopy).toBe(path.join(dataDir, 'mnist'));
    expect(plan({ kind: 'fashion-mnist' })?.customCopy).toBeUndefined(); // none here yet

    const raw = path.join(root, 'raw');
    await mkdir(raw);
    await writeDataset(raw, tinyDatasetFiles(45, 20));
    await importDataset('fashion-mnist', raw, { dataDir, allowCustom: true });
    expect(planned({ kind: 'fashion-mnist' })).toBe(45);
    const loaded = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [], download: false });
    expect(loaded.train.labels.length).toBe(45);
  });

  it('is what the spec says for shapes and for a subset', () => {
    expect(planned({ kind: 'shapes', mode: 'single', trainCount: 120, testCount: 30 })).toBe(120);
    expect(planned({ kind: 'fashion-mnist', trainSubset: 500 })).toBe(500);
  });
});
