/**
 * Feeding a split to the engine: normalisation of bytes to floats, a seeded per-epoch order, crop augmentation
 * (training batches), and a batch iterator that builds one batch's tensors at a time from the uint8 data — never a
 * float copy of the whole set.
 *
 * Ownership: every yielded `x` and `y` is a new tensor owned by the caller, who disposes it (`disposeBatch`)
 * when done with the batch. Breaking out of the loop early leaks nothing: a batch's tensors exist only once
 * it has been yielded.
 */
import { tf } from '../engine/tf';
import { LabError, requirePositiveInteger } from '../../src-shared/errors';
import { createRng, shuffleInPlace } from './shapes/rng';
import { cropOffset, writeCrop } from './augment';
import type { Split } from './types';

/** 'unit': x/255 ∈ [0, 1]. 'symmetric': x/127.5 − 1 ∈ [−1, 1]. */
export type Normalisation = 'unit' | 'symmetric';

const EPOCH_STREAM = 0xe90c4;

/** Byte → float lookup table (256 entries), so normalising is one array read per pixel. */
export function normalisationTable(mode: Normalisation): Float32Array {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = mode === 'unit' ? v / 255 : v / 127.5 - 1;
  return t;
}

export function normalise(images: Uint8Array, mode: Normalisation): Float32Array {
  const t = normalisationTable(mode);
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = t[images[i]];
  return out;
}

/** The order of an epoch: a permutation of 0..n−1 determined by (seed, epoch), or identity without shuffle. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffle ? shuffleInPlace(order, createRng(seed, EPOCH_STREAM, epoch)) : order;
}

export interface BatchOptions {
  batchSize: number;
  /** [h, w, c] of one image. */
  imageShape: readonly [number, number, number];
  /** Seed of the shuffling; with `epoch`, fixes the order. Default 0. */
  seed?: number;
  /** Default 0. Each epoch gets its own order. */
  epoch?: number;
  /** Default true; false keeps the split's order (evaluation). */
  shuffle?: boolean;
  /** Default 'unit'. */
  normalisation?: Normalisation;
  /** Drop the last, smaller batch. Default false. */
  dropRemainder?: boolean;
  /** Leave out the order's first this many batches (a resumed epoch's, already trained): never built. Default 0. */
  skip?: number;
  /**
   * Random crops of the images padded with this many black pixels a side (augment.ts), keyed by seed, epoch and
   * place in the epoch. Training batches only. Default: none.
   */
  cropPadding?: number;
}

export interface Batch<Y extends tf.Tensor = tf.Tensor1D> {
  /** [size, h, w, c] float32. */
  x: tf.Tensor4D;
  /** int32 labels [size], or float32 one-hot [size, classes]. */
  y: Y;
  size: number;
}

export function batchCount(n: number, batchSize: number, dropRemainder = false): number {
  return dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

export function disposeBatch(batch: Batch<tf.Tensor>): void {
  batch.x.dispose();
  batch.y.dispose();
}

/** Yields batches with int32 labels [size]. */
export function batches(split: Split, opts: BatchOptions): Generator<Batch<tf.Tensor1D>> {
  return iterate(split, opts, (labels) => tf.tensor1d(labels, 'int32'));
}

/** Yields batches with one-hot float32 labels [size, classes]. */
export function oneHotBatches(split: Split, classes: number, opts: BatchOptions): Generator<Batch<tf.Tensor2D>> {
  return iterate(split, opts, (labels) => {
    const y = new Float32Array(labels.length * classes);
    labels.forEach((l, k) => (y[k * classes + l] = 1));
    return tf.tensor2d(y, [labels.length, classes]);
  });
}

function* iterate<Y extends tf.Tensor>(split: Split, opts: BatchOptions, makeY: (labels: Int32Array) => Y): Generator<Batch<Y>> {
  const [h, w, c] = opts.imageShape;
  const px = h * w * c;
  const n = split.labels.length;
  requirePositiveInteger('batchSize', opts.batchSize);
  if (split.images.length !== n * px) {
    throw new LabError('INVALID_ARGUMENT', `images hold ${split.images.length} bytes, expected ${n} × ${h}×${w}×${c} = ${n * px}`);
  }
  const { seed = 0, epoch = 0 } = opts;
  const order = epochOrder(n, seed, epoch, opts.shuffle ?? true);
  const table = normalisationTable(opts.normalisation ?? 'unit');
  const count = batchCount(n, opts.batchSize, opts.dropRemainder);
  const padding = opts.cropPadding ?? 0;
  for (let b = opts.skip ?? 0; b < count; b++) {
    const start = b * opts.batchSize;
    const size = Math.min(opts.batchSize, n - start);
    // Fresh arrays per batch: tfjs may keep a reference to the values instead of copying them.
    const x = new Float32Array(size * px);
    const labels = new Int32Array(size);
    for (let k = 0; k < size; k++) {
      const i = order[start + k];
      const src = i * px;
      const dst = k * px;
      if (padding > 0) {
        const offset = cropOffset(seed, epoch, start + k, padding);
        writeCrop(x, dst, split.images, src, opts.imageShape, offset, padding, table);
      } else {
        for (let p = 0; p < px; p++) x[dst + p] = table[split.images[src + p]];
      }
      labels[k] = split.labels[i];
    }
    yield { x: tf.tensor4d(x, [size, h, w, c]), y: makeY(labels), size };
  }
}
