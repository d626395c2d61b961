/**
 * Reads a folder holding a dataset's four IDX files (any mix of gzip and raw), validates each file and each
 * images/labels pair, and keeps the files' bytes and SHA-256 so a caller can copy exactly what was validated.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../src-shared/errors';
import type { IdxDatasetInfo, IdxFileEntry } from './catalog';
import { idxHeader, readIdx, type IdxFile } from './idx';
import type { Split } from './types';
import { checkSplit } from './validate';

export interface ValidatedFile {
  entry: IdxFileEntry;
  path: string;
  /** The file exactly as read (compressed if it was). */
  bytes: Uint8Array;
  sha256: string;
  idx: IdxFile;
}

export interface ValidatedFolder {
  folder: string;
  files: ValidatedFile[];
  train: Split;
  test: Split;
}

/** Accepted spellings of a canonical name: `train-images-idx3-ubyte` and `train-images.idx3-ubyte` (Kaggle), ±`.gz`. */
function candidates(base: string): string[] {
  const dotted = base.replace(/-(idx\d)/, '.$1');
  return [base, `${base}.gz`, dotted, `${dotted}.gz`];
}

/** Finds each catalogue file in `folder`; a missing one fails before anything is read. */
export async function locateFiles(info: IdxDatasetInfo, folder: string): Promise<Map<IdxFileEntry, string>> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    throw new LabError('DATASET_NOT_FOUND', `${folder}: cannot list folder (${(e as Error).message})`, { folder });
  }
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const found = new Map<IdxFileEntry, string>();
  const missing: string[] = [];
  for (const entry of info.files) {
    const hit = candidates(entry.base).map((c) => byLower.get(c)).find((n) => n !== undefined);
    if (hit) found.set(entry, path.join(folder, hit));
    else missing.push(`${entry.base}[.gz]`);
  }
  if (missing.length) {
    throw new LabError('DATASET_NOT_FOUND', `${folder}: expected the four ${info.name} IDX files, missing ${missing.join(', ')}`, {
      folder,
      missing,
    });
  }
  return found;
}

export async function readBytes(p: string): Promise<Uint8Array> {
  try {
    return await readFile(p);
  } catch (e) {
    throw new LabError('DATASET_NOT_FOUND', `${p}: cannot read (${(e as Error).message})`, { file: p });
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of an IDX file's decompressed content (header and data), as the catalogue records it. */
export function contentSha256(idx: IdxFile): string {
  return createHash('sha256').update(idxHeader(idx.kind, idx.dims)).update(idx.data).digest('hex');
}

/** Reads one file, checks it is the IDX kind the catalogue entry says. */
async function readEntry(entry: IdxFileEntry, p: string): Promise<ValidatedFile> {
  const bytes = await readBytes(p);
  const idx = await readIdx(bytes, { expect: entry.kind, name: p });
  return { entry, path: p, bytes, sha256: sha256(bytes), idx };
}

/** Reads, validates and pairs given files (one per catalogue entry). */
export async function validateFiles(info: IdxDatasetInfo, located: Map<IdxFileEntry, string>): Promise<ValidatedFile[]> {
  // Read and gunzip in parallel (zlib runs on the thread pool), but report the first bad file in catalogue
  // order, so the same folder always gives the same error.
  const settled = await Promise.allSettled(info.files.map((entry) => readEntry(entry, located.get(entry) as string)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ValidatedFile>).value);
}

export function pairSplits(info: IdxDatasetInfo, files: ValidatedFile[]): { train: Split; test: Split } {
  const get = (split: string, kind: string) => files.find((f) => f.entry.split === split && f.entry.kind === kind) as ValidatedFile;
  const expect = { classes: info.classes.length, imageSize: [info.imageShape[0], info.imageShape[1]] as const };
  return {
    train: checkSplit(get('train', 'images').idx, get('train', 'labels').idx, expect),
    test: checkSplit(get('t10k', 'images').idx, get('t10k', 'labels').idx, expect),
  };
}

/** Locates, reads and validates the four files; `onVerify` is told each file before it is read. */
export async function readIdxFolder(info: IdxDatasetInfo, folder: string, onVerify?: (file: string) => void): Promise<ValidatedFolder> {
  const located = await locateFiles(info, folder);
  for (const entry of info.files) onVerify?.(located.get(entry) as string);
  const files = await validateFiles(info, located);
  return { folder, files, ...pairSplits(info, files) };
}
