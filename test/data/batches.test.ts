import { describe, expect, it } from 'vitest';
import {
  batchCount,
  batches,
  complement,
  disposeBatch,
  epochOrder,
  head,
  normalise,
  normalisationTable,
  oneHotBatches,
  subsetStratified,
} from '../../src-main/data/index';
import { proportionalQuotas } from '../../src-main/data/subset';
import { tf } from '../../src-main/engine/tf';
import type { Split } from '../../src-main/data/types';

/** n 2×2×1 images whose first pixel is the index (mod 256) and the rest its label; labels from `labelOf`. */
function indexedSplit(n: number, labelOf: (i: number) => number): Split {
  const images = new Uint8Array(n * 4);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = labelOf(i);
    images.set([i % 256, labels[i], labels[i], labels[i]], i * 4);
  }
  return { images, labels };
}

describe('head', () => {
  const split = indexedSplit(10, (i) => i % 3);

  it('takes the first images with their labels, as views, and all of a split that has fewer', () => {
    const first = head(split, 4);
    expect(Array.from(first.labels)).toEqual([0, 1, 2, 0]);
    expect(Array.from(first.images)).toEqual(Array.from(split.images.subarray(0, 16)));
    expect(first.images.buffer).toBe(split.images.buffer);
    const all = head(split, 25);
    expect([all.labels.length, all.images.length]).toEqual([10, 40]);
    expect([head(split, 0).labels.length, head(split, 0).images.length]).toEqual([0, 0]);
    expect(head({ images: new Uint8Array(0), labels: new Uint8Array(0) }, 3).labels.length).toBe(0);
  });

  it('rejects a negative or fractional number of images', () => {
    expect(() => head(split, -3)).toThrow(/integer ≥ 0, found -3/);
    expect(() => head(split, 2.5)).toThrow(/integer ≥ 0, found 2.5/);
  });
});

describe('complement', () => {
  it("is the images a subset left out, in order, with their labels: together they are the split", () => {
    const split = indexedSplit(300, (i) => i % 7);
    const subset = subsetStratified(split, 120, 3);
    const rest = complement(split, subset.indices);
    expect(rest.labels.length).toBe(180);
    const restIndices = Array.from({ length: 180 }, (_, k) => rest.images[k * 4]); // first pixel: the index mod 256
    const taken = new Set(subset.indices);
    const expected = Array.from({ length: 300 }, (_, i) => i).filter((i) => !taken.has(i));
    expect(restIndices).toEqual(expected.map((i) => i % 256));
    expect(Array.from(rest.labels)).toEqual(expected.map((i) => i % 7));
    expect(Array.from(rest.indices)).toEqual(expected);
    // Any order of the taken indices; an index outside the split is an error, not a silent miss.
    expect(complement(split, [...subset.indices].reverse()).indices).toEqual(rest.indices);
    expect(() => complement(split, [5, 300])).toThrow(/image index 300 is not in 0–299/);
    expect(complement(split, new Uint32Array(0)).labels.length).toBe(300);
    expect(complement(split, Uint32Array.from({ length: 300 }, (_, i) => i)).labels.length).toBe(0);
  });
});

describe('subsetStratified', () => {
  // 1000 images: 600 of class 0, 300 of class 1, 100 of class 2.
  const imbalanced = indexedSplit(1000, (i) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2));

  it('keeps class proportions and gathers the chosen images', () => {
    const sub = subsetStratified(imbalanced, 100, 1);
    const c = [0, 0, 0];
    for (const l of sub.labels) c[l]++;
    expect(c).toEqual([60, 30, 10]);
    expect(sub.indices.length).toBe(100);
    for (let k = 0; k < 100; k++) {
      const i = sub.indices[k];
      if (k > 0) expect(i).toBeGreaterThan(sub.indices[k - 1]); // ascending, so unique
      expect(sub.labels[k]).toBe(imbalanced.labels[i]);
      expect(Array.from(sub.images.subarray(k * 4, k * 4 + 4))).toEqual(Array.from(imbalanced.images.subarray(i * 4, i * 4 + 4)));
    }
  });

  it('is seeded: same seed same subset, another seed another', () => {
    const a = subsetStratified(imbalanced, 50, 7).indices;
    expect(Array.from(subsetStratified(imbalanced, 50, 7).indices)).toEqual(Array.from(a));
    expect(Array.from(subsetStratified(imbalanced, 50, 8).indices)).not.toEqual(Array.from(a));
  });

  it('apportions sizes that do not divide evenly by largest remainder', () => {
    expect(proportionalQuotas([600, 300, 100], 7)).toEqual([4, 2, 1]);
    expect(proportionalQuotas([5, 5, 5], 4)).toEqual([2, 1, 1]);
    expect(proportionalQuotas([10, 0, 3], 13)).toEqual([10, 0, 3]);
    for (const size of [1, 17, 333, 999]) expect(proportionalQuotas([600, 300, 100], size).reduce((a, b) => a + b)).toBe(size);
  });

  it('takes everything at full size and rejects impossible sizes', () => {
    expect(subsetStratified(imbalanced, 1000, 0).indices.length).toBe(1000);
    expect(() => subsetStratified(imbalanced, 0, 0)).toThrow(/INVALID_ARGUMENT: subset size must be an integer 1–1000, found 0/);
    expect(() => subsetStratified(imbalanced, 1001, 0)).toThrow(/found 1001/);
    expect(() => subsetStratified(imbalanced, 2.5, 0)).toThrow(/found 2.5/);
  });
});

describe('normalisation', () => {
  it("maps bytes to [0, 1] ('unit') or [−1, 1] ('symmetric')", () => {
    const bytes = Uint8Array.from([0, 51, 255]);
    expect(Array.from(normalise(bytes, 'unit'))).toEqual([0, Math.fround(0.2), 1]);
    expect(Array.from(normalise(bytes, 'symmetric'))).toEqual([-1, Math.fround(51 / 127.5 - 1), 1]);
    expect(normalisationTable('symmetric')).toHaveLength(256);
  });
});

describe('epochOrder', () => {
  it('is a seeded permutation that changes every epoch', () => {
    const e0 = epochOrder(500, 1, 0);
    expect([...e0].sort((a, b) => a - b)).toEqual([...Array(500).keys()]);
    expect(Array.from(epochOrder(500, 1, 0))).toEqual(Array.from(e0));
    expect(Array.from(epochOrder(500, 1, 1))).not.toEqual(Array.from(e0));
    expect(Array.from(epochOrder(500, 2, 0))).not.toEqual(Array.from(e0));
    expect(Array.from(epochOrder(5, 1, 0, false))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('batches', () => {
  const split = indexedSplit(250, (i) => i % 3);
  const shape = [2, 2, 1] as const;

  it('yields NHWC float32 / int32 tensors that cover the epoch once, in the seeded order', () => {
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batches(split, { batchSize: 64, imageShape: shape, seed: 5, epoch: 2 })) {
      expect(b.x.shape).toEqual([b.size, 2, 2, 1]);
      expect(b.x.dtype).toBe('float32');
      expect(b.y.shape).toEqual([b.size]);
      expect(b.y.dtype).toBe('int32');
      const x = b.x.dataSync();
      const y = b.y.dataSync();
      for (let k = 0; k < b.size; k++) {
        const idx = Math.round(x[k * 4] * 255);
        seen.push(idx);
        expect(y[k]).toBe(split.labels[idx]);
        expect(x[k * 4 + 1]).toBeCloseTo(split.labels[idx] / 255, 6);
      }
      sizes.push(b.size);
      disposeBatch(b);
    }
    expect(sizes).toEqual([64, 64, 64, 58]);
    expect(seen).toEqual(Array.from(epochOrder(250, 5, 2)));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drops the remainder when asked, keeps order without shuffle, and normalises symmetrically', () => {
    const all = [...batches(split, { batchSize: 100, imageShape: shape, shuffle: false, dropRemainder: true, normalisation: 'symmetric' })];
    expect(all.map((b) => b.size)).toEqual([100, 100]);
    expect(batchCount(250, 100, true)).toBe(2);
    expect(batchCount(250, 100)).toBe(3);
    const x = all[0].x.dataSync();
    expect(x[0]).toBe(-1); // image 0, pixel 0 = 0
    expect(x[4]).toBeCloseTo(1 / 127.5 - 1, 6); // image 1, pixel 0 = 1
    expect(Array.from(all[1].y.dataSync().slice(0, 3))).toEqual([100 % 3, 101 % 3, 102 % 3]);
    all.forEach(disposeBatch);
  });

  it('yields one-hot labels', () => {
    const [b] = oneHotBatches(split, 3, { batchSize: 4, imageShape: shape, shuffle: false });
    expect(b.y.shape).toEqual([4, 3]);
    expect(b.y.dtype).toBe('float32');
    expect(Array.from(b.y.dataSync())).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]);
    disposeBatch(b);
  });

  it('creates tensors lazily: breaking out early leaks nothing', () => {
    const before = tf.memory().numTensors;
    const it = batches(split, { batchSize: 10, imageShape: shape });
    expect(tf.memory().numTensors).toBe(before);
    const first = it.next();
    expect(tf.memory().numTensors).toBe(before + 2);
    if (!first.done) disposeBatch(first.value);
    it.return(undefined);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a bad batch size and images that do not match the shape', () => {
    expect(() => batches(split, { batchSize: 0, imageShape: shape }).next()).toThrow(/batchSize must be a positive integer, found 0/);
    expect(() => batches(split, { batchSize: 8, imageShape: [28, 28, 1] }).next()).toThrow(/images hold 1000 bytes, expected 250 × 28×28×1 = 196000/);
  });
});
