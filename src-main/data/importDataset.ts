/**
 * Imports a folder of the four IDX files into the data directory. Everything is validated before anything is
 * written, so a bad folder copies nothing and leaves the previous copy (if any) in place.
 *
 * Validation covers the format and, by content, the identity of the files (identity.ts, the same check a system
 * copy passes): a folder holding another published dataset (Fashion-MNIST imported as MNIST) or published files
 * under the wrong names (test files as training files) is refused outright; files that match no published file
 * are a dataset of the user's own, imported only when allowed.
 */
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { DatasetSpec } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { IDX_DATASETS } from './catalog';
import { defaultDataDir } from './dataDir';
import { readIdentifiedFolder } from './identity';
import { storeValidated } from './store';
import type { Dataset } from './types';

export interface ImportOptions {
  dataDir?: string;
  /**
   * Accept files whose content is not the published one: a dataset of your own in IDX format, stored under this
   * kind's name. Published files of another dataset, or under another file's name, are refused even so.
   */
  allowCustom?: boolean;
}

export interface ImportedDataset extends Dataset {
  /** Paths of the imported files whose content is not the published one (empty for a published copy). */
  custom: string[];
}

export async function importDataset(kind: IdxDatasetKind, folder: string, opts: ImportOptions = {}): Promise<ImportedDataset> {
  const info = IDX_DATASETS[kind];
  if (!info) throw new LabError('INVALID_ARGUMENT', `cannot import '${String(kind)}': expected mnist or fashion-mnist`);
  const from = path.resolve(folder);
  const validated = await readIdentifiedFolder(info, from, { use: 'import', allowCustom: opts.allowCustom ?? false });
  const custom = validated.custom;
  const dir = await storeValidated(opts.dataDir ?? defaultDataDir(), kind, validated.files, 'imported', from, custom.length > 0);
  return {
    name: info.name,
    classes: [...info.classes],
    imageShape: [...info.imageShape],
    train: validated.train,
    test: validated.test,
    source: { kind: 'imported', path: dir, from, ...(custom.length ? { custom: true as const } : {}) },
    spec: DatasetSpec.parse({ kind }),
    custom: custom.map((f) => f.path),
  };
}
