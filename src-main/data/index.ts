/**
 * Datasets: MNIST and Fashion-MNIST (IDX files from the data directory, system copies, imports or downloads)
 * and the synthetic shapes generator, plus what the engine needs to consume them: stratified subsets,
 * normalisation and seeded batch iteration.
 */
export { loadDataset, parseDatasetSpec, type LoadOptions } from './load';
export { importDataset, type ImportOptions, type ImportedDataset } from './importDataset';
export { readIdx, encodeIdx, isGzip, IDX_MAGIC, type IdxFile, type IdxKind, type ReadIdxOptions } from './idx';
export { previewShapes, type ShapesPreview } from './shapes/generate';
export { shapeClassNames } from './shapes/classes';
export { shapesCacheKey, shapesCacheRoot, GENERATOR_VERSION } from './shapes/cache';
export { complement, gather, head, stratifiedIndices, subsetStratified, type Subset } from './subset';
export {
  batches,
  oneHotBatches,
  disposeBatch,
  batchCount,
  epochOrder,
  normalise,
  normalisationTable,
  type Batch,
  type BatchOptions,
  type Normalisation,
} from './batches';
export { defaultDataDir } from './dataDir';
export { planIdxSource, type IdxSourcePlan } from './idxSources';
export { datasetContentHash } from './hash';
export { IDX_DATASETS, type IdxDatasetInfo } from './catalog';
export { downloadVerified, type ExpectedDigest, type DownloadOptions, type DownloadResult } from './download';
export type { Dataset, DatasetSource, DataProgress, Split } from './types';
