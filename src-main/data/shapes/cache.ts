/**
 * On-disk cache of generated shapes datasets, keyed by a hash of every parameter that affects the bytes plus
 * the generator version, so a study's runs reuse one dataset. An entry is a folder of four raw IDX files and
 * `spec.json`, published atomically; an unreadable entry is treated as a miss and regenerated.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ShapesSpec } from '../../../src-shared/config';
import { isLabError } from '../../../src-shared/errors';
import { makeStaging, publishDir, sweepStale } from '../fsAtomic';
import { encodeIdx, readIdx } from '../idx';
import type { Split } from '../types';
import { checkSplit } from '../validate';
import { shapeClassNames } from './classes';

/** Bump whenever the generator's output for a given spec changes (RNG draw order, rasteriser, …). */
export const GENERATOR_VERSION = 1;

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/** The parameters that determine the bytes, in a fixed key order (subset fields excluded). */
function generationParams(spec: ShapesSpec): Record<string, unknown> {
  const { trainSubset: _t, subsetSeed: _s, ...rest } = spec;
  return Object.fromEntries(Object.keys(rest).sort().map((k) => [k, rest[k as keyof typeof rest]]));
}

export function shapesCacheKey(spec: ShapesSpec): string {
  const text = JSON.stringify({ generator: GENERATOR_VERSION, ...generationParams(spec) });
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

/** The folder holding every cached shapes dataset. */
export function shapesCacheRoot(dataDir: string): string {
  return path.join(dataDir, 'shapes');
}

export function shapesCacheDir(dataDir: string, spec: ShapesSpec): string {
  return path.join(shapesCacheRoot(dataDir), shapesCacheKey(spec));
}

/** The cached splits, or undefined on a miss (absent, different parameters, or damaged). */
export async function readShapesCache(dir: string, spec: ShapesSpec): Promise<{ train: Split; test: Split } | undefined> {
  try {
    const meta = JSON.parse(await readFile(path.join(dir, 'spec.json'), 'utf8')) as { params?: unknown };
    if (JSON.stringify(meta.params) !== JSON.stringify(generationParams(spec))) return undefined;
    const classes = shapeClassNames(spec.mode).length;
    const imageSize = [spec.imageSize, spec.imageSize] as const;
    const read = async (split: 'train' | 'test'): Promise<Split> => {
      const [img, lab] = FILES[split];
      const images = await readIdx(path.join(dir, img), { expect: 'images' });
      const labels = await readIdx(path.join(dir, lab), { expect: 'labels' });
      return checkSplit(images, labels, { classes, imageSize });
    };
    const train = await read('train');
    const test = await read('test');
    if (train.labels.length !== spec.trainCount || test.labels.length !== spec.testCount) return undefined;
    return { train, test };
  } catch (e) {
    if (isLabError(e) || e instanceof SyntaxError || (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeShapesCache(dataDir: string, spec: ShapesSpec, data: { train: Split; test: Split }): Promise<string> {
  const target = shapesCacheDir(dataDir, spec);
  await sweepStale(path.dirname(target));
  const staging = await makeStaging(target);
  try {
    const S = spec.imageSize;
    for (const split of ['train', 'test'] as const) {
      const { images, labels } = data[split];
      const [img, lab] = FILES[split];
      await writeFile(path.join(staging, img), encodeIdx('images', [labels.length, S, S], images));
      await writeFile(path.join(staging, lab), encodeIdx('labels', [labels.length], labels));
    }
    const meta = { generator: GENERATOR_VERSION, params: generationParams(spec), createdAt: new Date().toISOString() };
    await writeFile(path.join(staging, 'spec.json'), JSON.stringify(meta, null, 2)); // written last: marks completion
    await publishDir(staging, target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true }); // a no-op once published
  }
}
