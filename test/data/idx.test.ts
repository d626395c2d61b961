import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, readIdx } from '../../src-main/data/idx';
import { checkSplit } from '../../src-main/data/validate';
import { LabError } from '../../src-shared/errors';
import { gz, removeDir, tempDir } from './fixtures';

/** Runs `fn`, expecting a LabError with this code; returns it for further checks. */
async function labError(fn: () => Promise<unknown>, code: string): Promise<LabError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LabError);
    expect((e as LabError).code).toBe(code);
    return e as LabError;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}

const images = encodeIdx('images', [3, 2, 4], Uint8Array.from({ length: 24 }, (_, i) => i * 10));
const labels = encodeIdx('labels', [3], Uint8Array.from([2, 0, 1]));

describe('readIdx', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => removeDir(dir));

  it('reads raw and gzip images to the same dims and data', async () => {
    const raw = await readIdx(images);
    const zipped = await readIdx(gz(images));
    expect(raw).toMatchObject({ kind: 'images', dims: [3, 2, 4], gzipped: false });
    expect(zipped).toMatchObject({ kind: 'images', dims: [3, 2, 4], gzipped: true });
    expect(Array.from(zipped.data)).toEqual(Array.from(raw.data));
    expect(raw.data[23]).toBe(230);
    expect((await readIdx(labels)).dims).toEqual([3]);
  });

  it('detects gzip by content, not by file name', async () => {
    const gzNoSuffix = path.join(dir, 'train-images-idx3-ubyte');
    const rawWithGzSuffix = path.join(dir, 'train-labels-idx1-ubyte.gz');
    await writeFile(gzNoSuffix, gz(images));
    await writeFile(rawWithGzSuffix, labels);
    expect(await readIdx(gzNoSuffix)).toMatchObject({ gzipped: true, kind: 'images', name: 'train-images-idx3-ubyte' });
    expect(await readIdx(rawWithGzSuffix)).toMatchObject({ gzipped: false, kind: 'labels' });
  });

  it('rejects the wrong magic, naming file, expected and found', async () => {
    const e = await labError(() => readIdx(labels, { expect: 'images', name: 'train-images-idx3-ubyte' }), 'DATASET_CORRUPT');
    expect(e.message).toBe(
      'DATASET_CORRUPT: train-images-idx3-ubyte: expected magic 2051 (IDX images), found magic 2049 (IDX labels)',
    );
    expect(e.details).toMatchObject({ file: 'train-images-idx3-ubyte', expected: 'magic 2051 (IDX images)' });
  });

  it('rejects a non-IDX file', async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0]);
    const e = await labError(() => readIdx(png, { name: 'photo.png' }), 'DATASET_CORRUPT');
    expect(e.message).toMatch(/photo\.png: expected magic 2051 \(IDX images\) or 2049 \(IDX labels\), found magic 2303741511 \(0x89504e47\) — not an IDX file/);
    const text = new TextEncoder().encode('hello, this is not a dataset\n');
    expect((await labError(() => readIdx(text), 'DATASET_CORRUPT')).message).toMatch(/not an IDX file/);
    expect((await labError(() => readIdx(Uint8Array.from([0, 0])), 'DATASET_CORRUPT')).message).toMatch(/2-byte file, too short/);
  });

  it('rejects a data type other than unsigned byte, and IDX files of other ranks', async () => {
    const floats = Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect((await labError(() => readIdx(floats), 'DATASET_CORRUPT')).message).toMatch(/expected IDX data type 0x08 \(unsigned byte\), found type 0x0d/);
    const matrix = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7]);
    expect((await labError(() => readIdx(matrix), 'DATASET_CORRUPT')).message).toMatch(/found magic 2050/);
  });

  it('reports a truncated payload with the byte position and the expected size', async () => {
    // A header claiming 60 000 MNIST images followed by only 1 MiB of file.
    const full = new Uint8Array(1_048_576);
    full.set(encodeIdx('images', [1, 28, 28], new Uint8Array(784)).subarray(0, 16));
    new DataView(full.buffer).setUint32(4, 60_000);
    const e = await labError(() => readIdx(full, { name: 'train-images-idx3-ubyte' }), 'DATASET_CORRUPT');
    expect(e.message).toBe(
      'DATASET_CORRUPT: train-images-idx3-ubyte: expected 47 040 016 bytes for 60000×28×28, found the data truncated at byte 1 048 576 of 47 040 016',
    );
  });

  it('reports bytes beyond what the header declares, and a truncated header', async () => {
    const longer = new Uint8Array(labels.length + 5);
    longer.set(labels);
    expect((await labError(() => readIdx(longer), 'DATASET_CORRUPT')).message).toMatch(/expected 11 bytes for 3, found 16 bytes \(5 after the end of the data\)/);
    expect((await labError(() => readIdx(images.subarray(0, 10)), 'DATASET_CORRUPT')).message).toMatch(/expected a 16-byte header, found the file truncated at byte 10/);
  });

  it('rejects zero dimensions', async () => {
    const empty = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 0]);
    expect((await labError(() => readIdx(empty), 'DATASET_CORRUPT')).message).toMatch(/expected non-zero dimensions, found dimension 0 = 0/);
  });

  it('reports a truncated or damaged gzip stream', async () => {
    const zipped = gz(images);
    const cut = zipped.subarray(0, Math.floor(zipped.length / 2));
    const e = await labError(() => readIdx(cut, { name: 'x.gz' }), 'DATASET_CORRUPT');
    expect(e.message).toMatch(new RegExp(`x\\.gz: expected a complete gzip stream, found a gzip stream cut short after ${cut.length} compressed bytes`));
    const damaged = Uint8Array.from(zipped);
    damaged[damaged.length - 6] ^= 0xff; // inside the CRC-32 trailer
    expect((await labError(() => readIdx(damaged), 'DATASET_CORRUPT')).message).toMatch(/damaged gzip stream/);
  });

  it('reports a decompressed size mismatch as decompressed', async () => {
    const e = await labError(() => readIdx(gz(images.subarray(0, 20))), 'DATASET_CORRUPT');
    expect(e.message).toMatch(/expected 40 bytes for 3×2×4 \(decompressed\), found the data truncated at byte 20 of 40/);
  });

  it('fails with DATASET_NOT_FOUND for a missing path', async () => {
    const e = await labError(() => readIdx(path.join(dir, 'nope')), 'DATASET_NOT_FOUND');
    expect(e.message).toMatch(/nope: cannot read/);
  });

  it('encodeIdx refuses dims that do not match the data', () => {
    expect(() => encodeIdx('images', [2, 2], new Uint8Array(4))).toThrow(/INVALID_ARGUMENT/);
    expect(() => encodeIdx('labels', [5], new Uint8Array(4))).toThrow(/INVALID_ARGUMENT/);
  });
});

describe('checkSplit', () => {
  const imgs = parseIdx(images, 'I');
  it('accepts a consistent pair and returns its data', () => {
    const split = checkSplit(imgs, parseIdx(labels, 'L'), { classes: 3, imageSize: [2, 4] });
    expect(Array.from(split.labels)).toEqual([2, 0, 1]);
    expect(split.images.length).toBe(24);
  });

  it('rejects labels out of range with the index', () => {
    const bad = parseIdx(encodeIdx('labels', [3], Uint8Array.from([1, 0, 12])), 'train-labels-idx1-ubyte');
    expect(() => checkSplit(imgs, bad, { classes: 10 })).toThrow(
      'DATASET_CORRUPT: train-labels-idx1-ubyte: expected labels 0–9, found 12 at index 2',
    );
  });

  it('rejects image and label counts that differ', () => {
    const two = parseIdx(encodeIdx('labels', [2], Uint8Array.from([1, 0])), 'L');
    expect(() => checkSplit(imgs, two, { classes: 10 })).toThrow('DATASET_CORRUPT: L: expected 3 labels (one per image in I), found 2');
  });

  it('rejects images of the wrong size', () => {
    expect(() => checkSplit(imgs, parseIdx(labels, 'L'), { classes: 10, imageSize: [28, 28] })).toThrow(
      'DATASET_CORRUPT: I: expected 28×28 images, found 2×4',
    );
  });
});
