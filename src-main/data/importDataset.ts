/**
 * Imports a folder of the four IDX files into the data directory. Everything is validated before anything is
 * written, so a bad folder copies nothing and leaves the previous copy (if any) in place.
 *
 * Validation covers the format and, by content, the identity of the files: each file's decompressed SHA-256
 * is compared with the catalogue's published files. A folder holding another published dataset (Fashion-MNIST
 * imported as MNIST) or published files under the wrong names (test files as training files) is refused
 * outright; files that match no published file are a dataset of the user's own, imported only when allowed.
 */
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { DatasetSpec } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { IDX_DATASETS, identifyIdxContent, type IdxDatasetInfo } from './catalog';
import { defaultDataDir } from './dataDir';
import { contentSha256, readIdxFolder, type ValidatedFile } from './idxFolder';
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
  const validated = await readIdxFolder(info, from);
  const custom = checkIdentity(info, from, validated.files, opts.allowCustom ?? false);
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

/** Refuses published files in the wrong place, and custom files unless allowed; returns the custom files. */
function checkIdentity(info: IdxDatasetInfo, folder: string, files: ValidatedFile[], allowCustom: boolean): ValidatedFile[] {
  const custom: { file: ValidatedFile; sha256: string }[] = [];
  const misplaced: { file: ValidatedFile; is: NonNullable<ReturnType<typeof identifyIdxContent>> }[] = [];
  for (const file of files) {
    const sha256 = contentSha256(file.idx);
    const known = identifyIdxContent(sha256);
    if (!known) custom.push({ file, sha256 });
    else if (known.entry !== file.entry) misplaced.push({ file, is: known });
  }
  const name = (f: ValidatedFile) => path.basename(f.path);
  if (misplaced.length) {
    const other = misplaced[0].is.info;
    const wholeOther =
      misplaced.length === files.length && misplaced.every((m) => m.is.info === other && m.is.entry.base === m.file.entry.base);
    const is = (m: (typeof misplaced)[number]) => `${name(m.file)} is ${m.is.info.name}'s ${m.is.entry.base}`;
    const message = wholeOther
      ? `${folder} holds ${other.name}, not ${info.name}: ${is(misplaced[0])}, and the other three files are ${other.name}'s too; import it as ${other.kind}`
      : `${folder}: not the ${info.name} files: ${misplaced.map(is).join(', ')}; each file must hold what its name says`;
    throw new LabError('INVALID_ARGUMENT', message, {
      folder,
      files: misplaced.map((m) => ({ file: m.file.path, is: `${m.is.info.kind}/${m.is.entry.base}` })),
    });
  }
  if (custom.length && !allowCustom) {
    const what = custom.map((c) => `${name(c.file)} (decompressed SHA-256 ${c.sha256.slice(0, 12)}…, published ${c.file.entry.sha256.slice(0, 12)}…)`);
    throw new LabError(
      'INVALID_ARGUMENT',
      `${folder}: not the published ${info.name} files: ${what.join(', ')}; ` +
        `to import a dataset of your own under the name ${info.kind}, allow custom files (odelab datasets import --force)`,
      { folder, files: custom.map((c) => ({ file: c.file.path, sha256: c.sha256, published: c.file.entry.sha256 })) },
    );
  }
  return custom.map((c) => c.file);
}
