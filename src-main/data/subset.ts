/**
 * Stratified, seeded training subsets (the write-ups train on 500 / 1350 / 2700 images): each class gets its
 * share of `size` in proportion to its frequency (largest remainder, ties to the lower label), and which
 * images of a class are taken is decided by a seeded shuffle. The result keeps the original order.
 * Also a split's first images (head), for evaluations on part of a split, and what a subset left out (complement).
 */
import { LabError } from '../../src-shared/errors';
import { createRng, shuffleInPlace } from './shapes/rng';
import type { Split } from './types';

const SUBSET_STREAM = 0x5ab5e7;

export interface Subset extends Split {
  /** Indices into the full split, ascending. */
  indices: Uint32Array;
}

export function subsetStratified(split: Split, size: number, seed: number): Subset {
  const indices = stratifiedIndices(split.labels, size, seed);
  return { ...gather(split, indices), indices };
}

/** The indices (ascending) subsetStratified takes, without copying any image. */
export function stratifiedIndices(labels: Uint8Array, size: number, seed: number): Uint32Array {
  const n = labels.length;
  if (!Number.isInteger(size) || size < 1 || size > n) {
    throw new LabError('INVALID_ARGUMENT', `subset size must be an integer 1–${n}, found ${size}`, { size, available: n });
  }
  const byClass = groupByClass(labels);
  const quotas = proportionalQuotas(byClass.map((c) => c.length), size);
  const picked: number[] = [];
  byClass.forEach((members, c) => {
    if (quotas[c] === 0) return;
    const order = shuffleInPlace(Uint32Array.from(members), createRng(seed, SUBSET_STREAM, c));
    for (let i = 0; i < quotas[c]; i++) picked.push(order[i]);
  });
  return Uint32Array.from(picked).sort();
}

function groupByClass(labels: Uint8Array): number[][] {
  const groups: number[][] = [];
  for (let i = 0; i < labels.length; i++) (groups[labels[i]] ??= []).push(i);
  for (let c = 0; c < groups.length; c++) groups[c] ??= [];
  return groups;
}

/** Largest-remainder apportionment of `size` over classes of the given counts. */
export function proportionalQuotas(counts: readonly number[], size: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((c) => (c * size) / total);
  const quotas = exact.map(Math.floor);
  let left = size - quotas.reduce((a, b) => a + b, 0);
  const order = exact.map((e, c) => ({ c, rem: e - Math.floor(e) })).sort((a, b) => b.rem - a.rem || a.c - b.c);
  for (const { c } of order) {
    if (left === 0) break;
    if (quotas[c] < counts[c]) {
      quotas[c]++;
      left--;
    }
  }
  return quotas;
}

/** The split's first `size` images, as views (no copy); all of them when it has fewer. */
export function head(split: Split, size: number): Split {
  if (!Number.isInteger(size) || size < 0) {
    throw new LabError('INVALID_ARGUMENT', `the number of images must be an integer ≥ 0, found ${size}`, { size });
  }
  const n = Math.min(size, split.labels.length);
  const px = pixelsPerImage(split);
  return { images: split.images.subarray(0, n * px), labels: split.labels.subarray(0, n) };
}

/** The images of `split` not among `taken` (any order), with their indices: validation data for a run on a subset. */
export function complement(split: Split, taken: ArrayLike<number>): Subset {
  const n = split.labels.length;
  const isTaken = new Uint8Array(n);
  for (let k = 0; k < taken.length; k++) {
    const i = taken[k];
    if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new LabError('INVALID_ARGUMENT', `image index ${i} is not in 0–${n - 1}`, { index: i });
    isTaken[i] = 1;
  }
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (!isTaken[i]) rest.push(i);
  const indices = Uint32Array.from(rest);
  return { ...gather(split, indices), indices };
}

/** Bytes of one image: images are row-major, one row per label. */
function pixelsPerImage(split: Split): number {
  return split.labels.length === 0 ? 0 : split.images.length / split.labels.length;
}

/** Copies the given rows of a split (images are row-major, so a row is one image). */
export function gather(split: Split, indices: ArrayLike<number>): Split {
  const px = pixelsPerImage(split);
  const images = new Uint8Array(indices.length * px);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    images.set(split.images.subarray(i * px, (i + 1) * px), k * px);
    labels[k] = split.labels[i];
  }
  return { images, labels };
}
