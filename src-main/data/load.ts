/**
 * loadDataset: parse the spec (field-level errors), fetch the data from its source — IDX datasets through the
 * source chain, shapes from the cache or the generator — and apply the optional stratified training subset.
 */
import { DatasetSpec, describeIssues, type DatasetSpecInput, type ShapesSpec } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { IDX_DATASETS } from './catalog';
import { defaultDataDir, withDataDir } from './dataDir';
import { loadIdxDataset, type IdxSourceOptions } from './idxSources';
import { shapeClassNames } from './shapes/classes';
import { readShapesCache, shapesCacheDir, writeShapesCache } from './shapes/cache';
import { generateShapes } from './shapes/generate';
import { subsetStratified } from './subset';
import type { Dataset, DatasetSource, ProgressOptions, Split } from './types';

export interface LoadOptions extends ProgressOptions, Partial<Omit<IdxSourceOptions, 'dataDir' | keyof ProgressOptions>> {
  /** Default: defaultDataDir(). */
  dataDir?: string;
  /** Shapes: read and write the on-disk cache. Default true. */
  cache?: boolean;
}

export function parseDatasetSpec(spec: DatasetSpecInput | DatasetSpec): DatasetSpec {
  const parsed = DatasetSpec.safeParse(spec);
  if (!parsed.success) {
    throw new LabError('INVALID_ARGUMENT', `invalid dataset spec:\n${describeIssues(parsed.error)}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

export async function loadDataset(specInput: DatasetSpecInput | DatasetSpec, opts: LoadOptions = {}): Promise<Dataset> {
  const spec = parseDatasetSpec(specInput);
  const dataDir = opts.dataDir ?? defaultDataDir();
  let dataset: Dataset;
  if (spec.kind === 'shapes') {
    dataset = { ...(await withDataDir(dataDir, () => loadShapes(spec, dataDir, opts))), spec };
  } else {
    const info = IDX_DATASETS[spec.kind];
    const loaded = await loadIdxDataset(spec.kind, { ...opts, dataDir });
    dataset = { name: info.name, classes: [...info.classes], imageShape: [...info.imageShape], ...loaded, spec };
  }
  if (spec.trainSubset !== undefined) {
    const { images, labels } = subsetStratified(dataset.train, spec.trainSubset, spec.subsetSeed);
    dataset.train = { images, labels };
  }
  return dataset;
}

async function loadShapes(spec: ShapesSpec, dataDir: string, opts: LoadOptions): Promise<Omit<Dataset, 'spec'>> {
  const base = {
    name: `Shapes (${spec.mode})`,
    classes: shapeClassNames(spec.mode),
    imageShape: [spec.imageSize, spec.imageSize, 1] as [number, number, number],
  };
  const useCache = opts.cache ?? true;
  const dir = shapesCacheDir(dataDir, spec);
  if (useCache) {
    const cached = await readShapesCache(dir, spec);
    if (cached) return { ...base, ...cached, source: { kind: 'cache', path: dir } };
  }
  const data: { train: Split; test: Split } = await generateShapes(spec, opts);
  let source: DatasetSource = { kind: 'generated' };
  if (useCache) source = { kind: 'generated', path: await writeShapesCache(dataDir, spec, data) };
  return { ...base, ...data, source };
}
