/**
 * Imports a folder of the four IDX files into the data directory. Everything is validated before anything is
 * written, so a bad folder copies nothing and leaves the previous copy (if any) in place.
 */
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { DatasetSpec } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { IDX_DATASETS } from './catalog';
import { defaultDataDir } from './dataDir';
import { readIdxFolder } from './idxFolder';
import { storeValidated } from './store';
import type { Dataset } from './types';

export interface ImportOptions {
  dataDir?: string;
}

export async function importDataset(kind: IdxDatasetKind, folder: string, opts: ImportOptions = {}): Promise<Dataset> {
  const info = IDX_DATASETS[kind];
  if (!info) throw new LabError('INVALID_ARGUMENT', `cannot import '${String(kind)}': expected mnist or fashion-mnist`);
  const from = path.resolve(folder);
  const validated = await readIdxFolder(info, from);
  const dir = await storeValidated(opts.dataDir ?? defaultDataDir(), kind, validated.files, 'imported', from);
  return {
    name: info.name,
    classes: [...info.classes],
    imageShape: [...info.imageShape],
    train: validated.train,
    test: validated.test,
    source: { kind: 'imported', path: dir, from },
    spec: DatasetSpec.parse({ kind }),
  };
}
