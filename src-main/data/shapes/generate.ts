/**
 * Generates shapes splits. Every image draws from its own RNG stream keyed by (seed, split, index), so any
 * prefix — the UI preview, a chunk of an async run — is byte-identical to the same images in a full run.
 * Labels are balanced (counts differ by at most one) and shuffled by a separate stream.
 */
import { ShapesSpec, describeIssues, type ShapesSpecInput } from '../../../src-shared/config';
import { LabError } from '../../../src-shared/errors';
import { throwIfAborted, yieldToEventLoop } from '../cancel';
import type { ProgressOptions, Split } from '../types';
import { shapeClassNames } from './classes';
import { createCanvas } from './raster';
import { createRng, shuffleInPlace } from './rng';
import { renderImage } from './scene';

export type ShapesSplitName = 'train' | 'test';
const SPLIT_KEY: Readonly<Record<ShapesSplitName, number>> = { train: 1, test: 2 };
const LABEL_STREAM = 0x1abe1;
const IMAGE_STREAM = 0x13a9e;
/** Images between two progress events / cancellation checks: about 10 ms of work at 28 px. */
const CHUNK = 1000;

export function labelSequence(spec: ShapesSpec, split: ShapesSplitName, count: number): Uint8Array {
  const k = shapeClassNames(spec.mode).length;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % k;
  return shuffleInPlace(labels, createRng(spec.seed, SPLIT_KEY[split], LABEL_STREAM));
}

/** Renders images [from, to) of a split whose labels are already drawn. */
function renderRange(spec: ShapesSpec, split: ShapesSplitName, labels: Uint8Array, images: Uint8Array, from: number, to: number): void {
  const canvas = createCanvas(spec.imageSize);
  const px = spec.imageSize * spec.imageSize;
  for (let i = from; i < to; i++) {
    renderImage(spec, labels[i], createRng(spec.seed, SPLIT_KEY[split], IMAGE_STREAM, i), canvas, images, i * px);
  }
}

export function generateSplitSync(spec: ShapesSpec, split: ShapesSplitName, count?: number): Split {
  const total = split === 'train' ? spec.trainCount : spec.testCount;
  const n = Math.min(count ?? total, total);
  const labels = labelSequence(spec, split, total).slice(0, n);
  const images = new Uint8Array(n * spec.imageSize * spec.imageSize);
  renderRange(spec, split, labels, images, 0, n);
  return { images, labels };
}

/** Generates both splits, in chunks that report progress and honour cancellation. */
export async function generateShapes(spec: ShapesSpec, opts: ProgressOptions = {}): Promise<{ train: Split; test: Split }> {
  const out: Partial<Record<ShapesSplitName, Split>> = {};
  for (const split of ['train', 'test'] as const) {
    const total = split === 'train' ? spec.trainCount : spec.testCount;
    const labels = labelSequence(spec, split, total);
    const images = new Uint8Array(total * spec.imageSize * spec.imageSize);
    for (let from = 0; from < total; from += CHUNK) {
      throwIfAborted(opts.signal, 'shapes generation');
      const to = Math.min(total, from + CHUNK);
      renderRange(spec, split, labels, images, from, to);
      opts.onProgress?.({ phase: 'generate', split, done: to, total });
      await yieldToEventLoop();
    }
    out[split] = { images, labels };
  }
  return out as { train: Split; test: Split };
}

export interface ShapesPreview {
  classes: string[];
  imageShape: [number, number, number];
  images: Uint8Array;
  labels: Uint8Array;
}

/** The first n training images of a spec, synchronously, for the UI's live preview (n ≤ 256). */
export function previewShapes(params: ShapesSpecInput | Omit<ShapesSpecInput, 'kind'>, n: number): ShapesPreview {
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new LabError('INVALID_ARGUMENT', `preview count must be an integer 0–256, found ${n}`);
  const parsed = ShapesSpec.safeParse({ ...params, kind: 'shapes' });
  if (!parsed.success) {
    throw new LabError('INVALID_ARGUMENT', describeIssues(parsed.error), { issues: parsed.error.issues });
  }
  const spec = parsed.data;
  const split = generateSplitSync(spec, 'train', n);
  return { classes: shapeClassNames(spec.mode), imageShape: [spec.imageSize, spec.imageSize, 1], ...split };
}
