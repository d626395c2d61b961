/**
 * How many training or test images a run on a dataset spec will have, known before its process loads anything, so
 * a trainSize or testSize above it is refused before the run is created. Shapes say so in the spec (trainCount,
 * testCount), and so does a training subset (trainSubset). MNIST and Fashion-MNIST have the published split's size:
 * a system copy or a download is always the published files (checked by content or checksum), and so is the data
 * directory's copy unless it is a dataset of the user's own (imported with --force), whose labels file for that
 * split gives its count.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { trainImagesOf, type DatasetSpec } from '../../src-shared/config';
import { IDX_DATASETS } from './catalog';
import { isGzip, parseIdx } from './idx';
import { datasetDir, readManifestSync } from './store';

/** A dataset's split as a run sees it: what it trains on, what it is scored on. */
export type PlannedSplit = 'train' | 'test';

/** How many images a split of a run's dataset will have, and from which copy when it is a dataset of the user's own. */
export interface PlannedImages {
  images: number;
  /** The data directory's copy, when it is a dataset of the user's own (imported with --force). */
  customCopy?: string;
}

/** The images of `split` the spec alone says (shapes, or a training subset of any dataset). */
function imagesOfSpec(spec: DatasetSpec, split: PlannedSplit): number | undefined {
  if (split === 'train') return trainImagesOf(spec);
  return spec.kind === 'shapes' ? spec.testCount : undefined;
}

/**
 * The images of `split` that `spec` yields with the copy `dataDir` would provide; undefined when that copy cannot
 * be read here (its load will say why, naming the file).
 */
export function plannedImages(spec: DatasetSpec, dataDir: string, split: PlannedSplit): PlannedImages | undefined {
  const fromSpec = imagesOfSpec(spec, split);
  if (spec.kind === 'shapes') return fromSpec === undefined ? undefined : { images: fromSpec };
  try {
    const manifest = readManifestSync(dataDir, spec.kind);
    const info = IDX_DATASETS[spec.kind];
    if (!manifest?.custom) return { images: fromSpec ?? info.published[split] };
    const customCopy = datasetDir(dataDir, spec.kind);
    if (fromSpec !== undefined) return { images: fromSpec, customCopy };
    const base = info.files.find((f) => f.kind === 'labels' && f.split === (split === 'train' ? 'train' : 't10k'))?.base;
    const labels = manifest.files.find((f) => f.base === base);
    if (!labels) return undefined;
    const file = path.join(customCopy, labels.name);
    const bytes = readFileSync(file); // labels: one byte per image, small even gzipped
    return { images: parseIdx(isGzip(bytes) ? gunzipSync(bytes) : bytes, file, isGzip(bytes), 'labels').dims[0], customCopy };
  } catch {
    return fromSpec === undefined ? undefined : { images: fromSpec };
  }
}
