/**
 * Crop augmentation (RandomCrop(size, padding) as odenet_mnist.py's data_aug) in the batches the trainer builds:
 * windows inside the padded image, every offset used, a black border at every normalisation, and crops that depend
 * only on seed, epoch and place in the epoch (a skipped batch, another batch size: the same crops).
 */
import { describe, expect, it } from 'vitest';
import { batches, disposeBatch, epochOrder, normalisationTable, type Normalisation } from '../../src-main/data/index';
import { cropOffset } from '../../src-main/data/augment';
import type { BatchOptions } from '../../src-main/data/batches';
import type { Split } from '../../src-main/data/types';

const H = 6;
const W = 5;
/** n 6×5×2 images whose every byte differs within an image and is never 0 (black): channel 0 says where it came from. */
function patternSplit(n: number): Split {
  const images = new Uint8Array(n * H * W * 2);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < H * W; p++) images.set([1 + p, 100 + ((i * 7 + p) % 150)], (i * H * W + p) * 2);
  }
  return { images, labels: new Uint8Array(n).map((_, i) => i % 3) };
}

/** Every batch's pixels, concatenated, and the batches' sizes. */
function pixels(split: Split, opts: BatchOptions): Float32Array[] {
  const out: Float32Array[] = [];
  for (const b of batches(split, opts)) {
    out.push(b.x.dataSync() as Float32Array);
    disposeBatch(b);
  }
  return out;
}

const concat = (parts: Float32Array[]) => Float32Array.from(parts.flatMap((p) => Array.from(p)));

/**
 * The crop as RandomCrop takes it, written plainly: the image padded with `padding` black pixels a side (in bytes,
 * before normalising), then the h×w window at (dy, dx) of it, normalised.
 */
function naiveCrop(image: Uint8Array, dy: number, dx: number, padding: number, mode: Normalisation): number[] {
  const [ph, pw] = [H + 2 * padding, W + 2 * padding];
  const padded = new Uint8Array(ph * pw * 2);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) padded.set(image.subarray((y * W + x) * 2, (y * W + x) * 2 + 2), ((y + padding) * pw + x + padding) * 2);
  const table = normalisationTable(mode);
  const out: number[] = [];
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let ch = 0; ch < 2; ch++) out.push(table[padded[((y + dy) * pw + x + dx) * 2 + ch]]);
  return out;
}

describe('crop augmentation', () => {
  const n = 40;
  const split = patternSplit(n);
  const px = H * W * 2;
  const opts = { batchSize: 8, imageShape: [H, W, 2] as const, seed: 3, epoch: 2, cropPadding: 2 };

  it('crops each image as RandomCrop does, at its offset, with a black border at every normalisation', () => {
    for (const normalisation of ['unit', 'symmetric'] as const) {
      const x = concat(pixels(split, { ...opts, normalisation }));
      const order = epochOrder(n, opts.seed, opts.epoch);
      const black = normalisationTable(normalisation)[0];
      expect(black).toBe(normalisation === 'unit' ? 0 : -1);
      let bordered = 0;
      for (let k = 0; k < n; k++) {
        const image = split.images.subarray(order[k] * px, (order[k] + 1) * px);
        const { dy, dx } = cropOffset(opts.seed, opts.epoch, k, opts.cropPadding);
        const got = Array.from(x.subarray(k * px, (k + 1) * px));
        expect(got).toEqual(naiveCrop(image, dy, dx, opts.cropPadding, normalisation));
        // No byte of these images is black: a black pixel is border, and there is one unless the window is the image.
        const border = got.filter((v) => v === black).length;
        expect(border > 0).toBe(dy !== opts.cropPadding || dx !== opts.cropPadding);
        if (border > 0) bordered++;
      }
      expect(bordered).toBeGreaterThan(n / 2);
    }
  });

  it("draws every offset 0..2·padding in each direction, about equally often (RandomCrop(28, padding=4): 0..8)", () => {
    const counts = new Map<string, number>();
    const rows = new Set<number>();
    const cols = new Set<number>();
    for (let position = 0; position < 8100; position++) {
      const { dy, dx } = cropOffset(0, 1, position, 4);
      expect(dy >= 0 && dy <= 8 && dx >= 0 && dx <= 8).toBe(true);
      rows.add(dy);
      cols.add(dx);
      counts.set(`${dy},${dx}`, (counts.get(`${dy},${dx}`) ?? 0) + 1);
    }
    expect([...rows].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...cols].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // 81 windows, 100 each expected.
    expect(counts.size).toBe(81);
    expect(Math.min(...counts.values())).toBeGreaterThan(60);
    expect(Math.max(...counts.values())).toBeLessThan(140);
  });

  it('crops by seed, epoch and place in the epoch only: the same again, a skipped batch, another batch size', () => {
    const all = concat(pixels(split, opts));
    expect(concat(pixels(split, opts))).toEqual(all);
    // A resumed epoch skips its first batches without building them: the rest are cropped as before.
    expect(concat(pixels(split, { ...opts, skip: 3 }))).toEqual(all.subarray(3 * 8 * px));
    expect(concat(pixels(split, { ...opts, batchSize: 7 }))).toEqual(all);
    // Another seed or epoch crops otherwise (and orders otherwise: compare the offsets).
    const offsets = (seed: number, epoch: number) => Array.from({ length: n }, (_, k) => cropOffset(seed, epoch, k, 2));
    expect(offsets(4, 2)).not.toEqual(offsets(3, 2));
    expect(offsets(3, 3)).not.toEqual(offsets(3, 2));
    // Without cropPadding (evaluation, or augment none), the images as they are.
    const plain = concat(pixels(split, { ...opts, cropPadding: undefined }));
    const order = epochOrder(n, opts.seed, opts.epoch);
    const table = normalisationTable('unit');
    expect(Array.from(plain.subarray(0, px))).toEqual(Array.from(split.images.subarray(order[0] * px, (order[0] + 1) * px), (v) => table[v]));
  });

  it('a padding as wide as the image leaves whole rows and columns black, never reads outside it', () => {
    const x = concat(pixels(split, { ...opts, cropPadding: 7 }));
    expect(x.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    for (let k = 0; k < n; k++) {
      const { dy, dx } = cropOffset(opts.seed, opts.epoch, k, 7);
      const order = epochOrder(n, opts.seed, opts.epoch);
      const image = split.images.subarray(order[k] * px, (order[k] + 1) * px);
      expect(Array.from(x.subarray(k * px, (k + 1) * px))).toEqual(naiveCrop(image, dy, dx, 7, 'unit'));
    }
  });
});
