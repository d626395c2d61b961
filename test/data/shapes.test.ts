import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, previewShapes, shapeClassNames, shapesCacheKey, type DataProgress } from '../../src-main/data/index';
import { shapesForLabel } from '../../src-main/data/shapes/classes';
import { generateSplitSync } from '../../src-main/data/shapes/generate';
import { ShapesSpec, type ShapesSpecInput } from '../../src-shared/config';
import { isLabError } from '../../src-shared/errors';
import { removeDir, snapshot, tempDir } from './fixtures';
import { classifyShape, components, rectangularity } from './imageStats';

const spec = (p: Omit<ShapesSpecInput, 'kind'> = {}) => ShapesSpec.parse({ kind: 'shapes', ...p });
const image = (images: Uint8Array, i: number, size = 28) => images.subarray(i * size * size, (i + 1) * size * size);
const counts = (labels: Uint8Array, k: number) => {
  const c = Array(k).fill(0);
  for (const l of labels) c[l]++;
  return c;
};

describe('shapes classes', () => {
  it('names the write-up classes in label order', () => {
    expect(shapeClassNames('single')).toEqual(['triangle', 'circle', 'rectangle']);
    expect(shapeClassNames('compound')).toEqual([
      'blank', 'circle', 'triangle', 'rectangle', 'circle+triangle', 'circle+rectangle', 'triangle+rectangle',
    ]);
  });
});

describe('shapes content', () => {
  it('single mode: every image is one shape whose geometry matches its label', () => {
    const s = generateSplitSync(spec({ trainCount: 900 }), 'train');
    const names = shapeClassNames('single');
    const ranges = { triangle: [0.45, 0.65], circle: [0.75, 0.83], rectangle: [0.95, 1.05] } as const;
    for (let i = 0; i < 900; i++) {
      const img = image(s.images, i);
      const comps = components(img, 28);
      expect(comps).toHaveLength(1);
      const name = names[s.labels[i]] as keyof typeof ranges;
      const r = rectangularity(img, 28, comps[0]);
      expect(r, `image ${i} (${name})`).toBeGreaterThanOrEqual(ranges[name][0]);
      expect(r, `image ${i} (${name})`).toBeLessThanOrEqual(ranges[name][1]);
    }
  });

  it('compound mode: blank has no ink, singles one component, pairs two separated components of the right shapes', () => {
    const s = generateSplitSync(spec({ mode: 'compound', trainCount: 1400 }), 'train');
    for (let i = 0; i < 1400; i++) {
      const img = image(s.images, i);
      const want = [...shapesForLabel('compound', s.labels[i])].sort();
      if (s.labels[i] === 0) expect(img.every((v) => v === 0), `blank image ${i}`).toBe(true);
      // 8-connected components of any ink at all: two means not a single pixel of the pair touches.
      const comps = components(img, 28);
      expect(comps.length, `image ${i}`).toBe(want.length);
      const got = comps.map((c) => classifyShape(rectangularity(img, 28, c))).sort();
      expect(got, `image ${i}`).toEqual(want);
    }
  });

  it('keeps at least minGap empty pixels between the shapes of a pair', () => {
    const s = generateSplitSync(spec({ mode: 'compound', trainCount: 700, minGap: 4 }), 'train');
    for (let i = 0; i < 700; i++) {
      if (s.labels[i] < 4) continue;
      const [a, b] = components(image(s.images, i), 28);
      let nearest = Infinity;
      for (const p of a) for (const q of b) nearest = Math.min(nearest, Math.hypot((p % 28) - (q % 28), Math.floor(p / 28) - Math.floor(q / 28)));
      expect(nearest - 1, `image ${i}`).toBeGreaterThanOrEqual(4); // empty pixels between the nearest inked ones
    }
  });

  it('balances classes in both splits', () => {
    const single = spec({ trainCount: 2700, testCount: 500 });
    expect(counts(generateSplitSync(single, 'train').labels, 3)).toEqual([900, 900, 900]);
    const c = counts(generateSplitSync(single, 'test').labels, 3);
    expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
    const compound = counts(generateSplitSync(spec({ mode: 'compound', trainCount: 1350 }), 'train').labels, 7);
    expect(compound.reduce((a, b) => a + b)).toBe(1350);
    expect(Math.max(...compound) - Math.min(...compound)).toBeLessThanOrEqual(1);
  });

  it('outline shapes are hollow: a circle outline has no ink at its centre and less ink than a filled one', () => {
    const filled = generateSplitSync(spec({ trainCount: 90, positionJitter: 0 }), 'train');
    const outline = generateSplitSync(spec({ trainCount: 90, positionJitter: 0, fill: 'outline', strokeWidth: 1.5 }), 'train');
    for (let i = 0; i < 90; i++) {
      if (filled.labels[i] !== 1) continue; // circles (same labels and sizes: only the style differs)
      const o = image(outline.images, i), f = image(filled.images, i);
      expect(o[14 * 28 + 14]).toBe(0);
      expect(f[14 * 28 + 14]).toBe(255);
      const sum = (a: Uint8Array) => a.reduce((x, y) => x + y, 0);
      expect(sum(o)).toBeLessThan(0.8 * sum(f));
    }
  });

  it('anti-aliasing gives intermediate edge values; without it images are pure black and white', () => {
    const values = (antialias: boolean) => new Set(generateSplitSync(spec({ trainCount: 30, antialias }), 'train').images);
    expect(values(true).size).toBeGreaterThan(100);
    expect([...values(false)].sort((a, b) => a - b)).toEqual([0, 255]);
  });

  it('without rotation or position jitter, rectangles are axis-aligned and centred', () => {
    const s = generateSplitSync(spec({ trainCount: 60, rotationJitter: 0, positionJitter: 0, antialias: false }), 'train');
    for (let i = 0; i < 60; i++) {
      if (s.labels[i] !== 2) continue;
      const img = image(s.images, i);
      const ink = [...img.keys()].filter((p) => img[p] > 0);
      const xs = ink.map((p) => p % 28), ys = ink.map((p) => Math.floor(p / 28));
      const w = Math.max(...xs) - Math.min(...xs) + 1, h = Math.max(...ys) - Math.min(...ys) + 1;
      expect(ink.length).toBe(w * h); // fills its bounding box exactly
      expect(Math.abs(Math.min(...xs) + Math.max(...xs) + 1 - 28)).toBeLessThanOrEqual(1);
    }
  });

  it('noise adds bounded ink everywhere, including blank images', () => {
    const clean = generateSplitSync(spec({ mode: 'compound', trainCount: 70 }), 'train');
    const noisy = generateSplitSync(spec({ mode: 'compound', trainCount: 70, noise: 0.1 }), 'train');
    expect(Array.from(noisy.labels)).toEqual(Array.from(clean.labels));
    let changed = 0;
    let largest = 0;
    for (let i = 0; i < clean.images.length; i++) {
      largest = Math.max(largest, Math.abs(noisy.images[i] - clean.images[i]));
      if (noisy.images[i] !== clean.images[i]) changed++;
    }
    expect(largest).toBeLessThanOrEqual(26); // 0.1 × 255, rounded
    expect(largest).toBeGreaterThanOrEqual(20);
    expect(changed / clean.images.length).toBeGreaterThan(0.3);
    const blank = clean.labels.indexOf(0);
    expect(image(noisy.images, blank).some((v) => v > 0)).toBe(true);
  });

  it('renders at other image sizes', () => {
    const s = generateSplitSync(spec({ imageSize: 64, trainCount: 30 }), 'train');
    expect(s.images.length).toBe(30 * 64 * 64);
    const names = shapeClassNames('single');
    for (let i = 0; i < 30; i++) {
      const img = image(s.images, i, 64);
      const comps = components(img, 64);
      expect(comps).toHaveLength(1);
      expect(classifyShape(rectangularity(img, 64, comps[0]))).toBe(names[s.labels[i]]);
    }
  });
});

describe('shapes determinism and speed', () => {
  const golden = spec({ mode: 'compound', seed: 7, trainCount: 700, testCount: 70, noise: 0.1, fill: 'mixed' });
  const digest = (s: { images: Uint8Array; labels: Uint8Array }) => createHash('sha256').update(s.images).update(s.labels).digest('hex');

  it('gives byte-identical data for the same parameters and seed (golden hashes)', () => {
    // Hard-coded: a change here changes every shapes dataset — bump GENERATOR_VERSION and update on purpose.
    expect(digest(generateSplitSync(golden, 'train'))).toBe('3fdd05cda4e2806fcf7ab463af5cd2546787058ddf8f7d0bb8e1ba1720892fcc');
    expect(digest(generateSplitSync(golden, 'test'))).toBe('a2c9b1655dd1d612c7ccff192fe9b698055da1e8d7ebc65651d06739cdaf7933');
    expect(Array.from(generateSplitSync(golden, 'train', 12).labels)).toEqual([4, 3, 2, 5, 5, 6, 2, 2, 5, 5, 6, 6]);
  });

  it('changes with the seed, and train and test differ', () => {
    const a = generateSplitSync(golden, 'train');
    const b = generateSplitSync({ ...golden, seed: 8 }, 'train');
    expect(digest(a)).not.toBe(digest(b));
    expect(Buffer.from(image(a.images, 0)).equals(Buffer.from(image(generateSplitSync(golden, 'test').images, 0)))).toBe(false);
  });

  it('generates 10 000 28×28 images in well under 2 s', () => {
    const s10k = spec({ trainCount: 10_000 });
    generateSplitSync(s10k, 'train', 200); // warm up the JIT
    const t0 = performance.now();
    const s = generateSplitSync(s10k, 'train');
    const ms = performance.now() - t0;
    expect(s.labels.length).toBe(10_000);
    expect(ms).toBeLessThan(2000);
  });

  it('previewShapes returns the first n training images quickly', () => {
    const t0 = performance.now();
    const p = previewShapes({ mode: 'compound', seed: 7, trainCount: 700, testCount: 70, noise: 0.1, fill: 'mixed' }, 16);
    expect(performance.now() - t0).toBeLessThan(200);
    const full = generateSplitSync(golden, 'train');
    expect(Buffer.from(p.images).equals(Buffer.from(full.images.subarray(0, 16 * 784)))).toBe(true);
    expect(Array.from(p.labels)).toEqual(Array.from(full.labels.subarray(0, 16)));
    expect(p.classes).toHaveLength(7);
    expect(p.imageShape).toEqual([28, 28, 1]);
    expect(() => previewShapes({ noise: -1 }, 4)).toThrow(/INVALID_ARGUMENT: noise: /);
    expect(() => previewShapes({}, 1000)).toThrow(/preview count must be an integer 0–256/);
  });
});

describe('shapes through loadDataset', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await tempDir();
  });
  afterAll(() => removeDir(dataDir));
  const small = { kind: 'shapes', mode: 'compound', trainCount: 1350, testCount: 500, seed: 3 } as const;

  it('generates with progress, caches by parameter hash, and reuses the cache', async () => {
    const events: DataProgress[] = [];
    const first = await loadDataset(small, { dataDir, onProgress: (e) => events.push(e) });
    const key = shapesCacheKey(ShapesSpec.parse(small));
    expect(first.source).toEqual({ kind: 'generated', path: path.join(dataDir, 'shapes', key) });
    expect(first.name).toBe('Shapes (compound)');
    expect(first.imageShape).toEqual([28, 28, 1]);
    expect(events.filter((e) => e.phase === 'generate').map((e) => e.phase === 'generate' && `${e.split}:${e.done}/${e.total}`)).toEqual([
      'train:1000/1350', 'train:1350/1350', 'test:500/500',
    ]);
    const second = await loadDataset(small, { dataDir });
    expect(second.source).toEqual({ kind: 'cache', path: path.join(dataDir, 'shapes', key) });
    expect(Buffer.from(second.train.images).equals(Buffer.from(first.train.images))).toBe(true);
    expect(Buffer.from(second.test.labels).equals(Buffer.from(first.test.labels))).toBe(true);
  });

  it('keys the cache by generation parameters only', () => {
    const base = ShapesSpec.parse(small);
    expect(shapesCacheKey({ ...base, trainSubset: 500 })).toBe(shapesCacheKey(base));
    expect(shapesCacheKey({ ...base, noise: 0.05 })).not.toBe(shapesCacheKey(base));
    expect(shapesCacheKey({ ...base, seed: 4 })).not.toBe(shapesCacheKey(base));
  });

  it('regenerates over a damaged cache entry', async () => {
    const dir = path.join(dataDir, 'shapes', shapesCacheKey(ShapesSpec.parse(small)));
    await writeFile(path.join(dir, 'train-labels-idx1-ubyte'), 'garbage');
    const ds = await loadDataset(small, { dataDir });
    expect(ds.source.kind).toBe('generated');
    expect((await loadDataset(small, { dataDir })).source.kind).toBe('cache');
  });

  it('applies a stratified subset of the generated training split', async () => {
    const ds = await loadDataset({ ...small, trainSubset: 500 }, { dataDir });
    expect(ds.train.labels.length).toBe(500);
    const c = counts(ds.train.labels, 7);
    expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
    expect(ds.test.labels.length).toBe(500);
  });

  it('can be cancelled, writing nothing', async () => {
    const dir = await tempDir();
    try {
      const controller = new AbortController();
      const err = await loadDataset({ ...small, seed: 99 }, { dataDir: dir, signal: controller.signal, onProgress: () => controller.abort() }).catch(
        (e: unknown) => e,
      );
      expect(isLabError(err, 'CANCELLED')).toBe(true);
      expect(await snapshot(dir)).toEqual({});
    } finally {
      await removeDir(dir);
    }
  });

  it('skips the cache when asked', async () => {
    const dir = await tempDir();
    try {
      const ds = await loadDataset({ ...small, trainCount: 70, testCount: 7 }, { dataDir: dir, cache: false });
      expect(ds.source).toEqual({ kind: 'generated' });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await removeDir(dir);
    }
  });

  it('rejects invalid specs with field-level messages', async () => {
    const err = await loadDataset({ kind: 'shapes', noise: 2, sizeRange: [0.8, 0.3], trainCount: 0 }, { dataDir }).catch((e: unknown) => e);
    expect(isLabError(err, 'INVALID_ARGUMENT')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^INVALID_ARGUMENT: invalid dataset spec:/);
    expect(msg).toMatch(/\ntrainCount: /);
    expect(msg).toMatch(/\nnoise: /);
    expect(msg).toMatch(/\nsizeRange: min must not exceed max/);
  });
});
