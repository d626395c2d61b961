/**
 * How many training images a run on a dataset spec will have, known before its process loads anything, so a
 * trainSize above it is refused before the run is created. Shapes and subsets say so in the spec. MNIST and
 * Fashion-MNIST have the published split's size: a system copy or a download is always the published files
 * (checked by content or checksum), and so is the data directory's copy unless it is a dataset of the user's own
 * (imported with --force), whose training labels file gives its count.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { trainImagesOf, type DatasetSpec } from '../../src-shared/config';
import { IDX_DATASETS } from './catalog';
import { isGzip, parseIdx } from './idx';
import { datasetDir, readManifestSync } from './store';

/** How many training images a run will have, and from which copy when it is a dataset of the user's own. */
export interface PlannedTrainImages {
  images: number;
  /** The data directory's copy, when it is a dataset of the user's own (imported with --force). */
  customCopy?: string;
}

/**
 * The training images `spec` yields with the copy `dataDir` would provide; undefined when that copy cannot be
 * read here (its load will say why, naming the file).
 */
export function plannedTrainImages(spec: DatasetSpec, dataDir: string): PlannedTrainImages | undefined {
  const fromSpec = trainImagesOf(spec);
  if (spec.kind === 'shapes') return fromSpec === undefined ? undefined : { images: fromSpec };
  try {
    const manifest = readManifestSync(dataDir, spec.kind);
    if (!manifest?.custom) return { images: fromSpec ?? IDX_DATASETS[spec.kind].published.train };
    const customCopy = datasetDir(dataDir, spec.kind);
    if (fromSpec !== undefined) return { images: fromSpec, customCopy };
    const labels = manifest.files.find((f) => f.base === 'train-labels-idx1-ubyte');
    if (!labels) return undefined;
    const file = path.join(customCopy, labels.name);
    const bytes = readFileSync(file); // labels: one byte per image, small even gzipped
    return { images: parseIdx(isGzip(bytes) ? gunzipSync(bytes) : bytes, file, isGzip(bytes), 'labels').dims[0], customCopy };
  } catch {
    return fromSpec === undefined ? undefined : { images: fromSpec };
  }
}
