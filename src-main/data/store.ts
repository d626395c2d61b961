/**
 * The data directory's copy of an IDX dataset: `<dataDir>/<kind>/` holds the four files under their canonical
 * names and a `manifest.json` recording where they came from and each file's SHA-256 at the time they were
 * validated. The manifest is written inside the staging directory, so a folder is either complete and
 * verified or absent; on load every file is re-hashed, so later damage on disk is caught too.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { LabError } from '../../src-shared/errors';
import { IDX_DATASETS } from './catalog';
import { withDataDir } from './dataDir';
import { makeStaging, publishDir, sweepStale } from './fsAtomic';
import { readIdx } from './idx';
import { pairSplits, readBytes, sha256, type ValidatedFile } from './idxFolder';
import type { Split } from './types';

const MANIFEST = 'manifest.json';
const MANIFEST_VERSION = 1;

export interface Manifest {
  version: number;
  kind: IdxDatasetKind;
  origin: 'imported' | 'download';
  /** Folder imported from, or the mirror URLs used. */
  from: string;
  savedAt: string;
  files: { base: string; name: string; bytes: number; sha256: string }[];
  /** Set when the files are not the published ones (a dataset of the user's own, imported with force). */
  custom?: true;
}

export function datasetDir(dataDir: string, kind: IdxDatasetKind): string {
  return path.join(dataDir, kind);
}

/** The canonical name a validated file is stored under: the base name, plus `.gz` if its content is gzip. */
export function storedName(f: ValidatedFile): string {
  return f.entry.base + (f.idx.gzipped ? '.gz' : '');
}

/**
 * Stores already validated files in the data directory: all bytes go to a staging directory first, which then
 * replaces any previous copy in one rename.
 */
export async function storeValidated(
  dataDir: string,
  kind: IdxDatasetKind,
  files: ValidatedFile[],
  origin: Manifest['origin'],
  from: string,
  custom = false,
): Promise<string> {
  const target = datasetDir(dataDir, kind);
  return withDataDir(dataDir, async () => {
    await sweepStale(dataDir);
    const staging = await makeStaging(target);
    try {
      for (const f of files) await writeFile(path.join(staging, storedName(f)), f.bytes);
      await publishStaged(staging, target, kind, files, origin, from, storedName, custom);
      return target;
    } finally {
      await rm(staging, { recursive: true, force: true }); // a no-op once published
    }
  });
}

/**
 * Seals a staging directory holding `files` (named by `nameOf`) with the manifest, written last, then
 * publishes it.
 */
export async function publishStaged(
  staging: string,
  target: string,
  kind: IdxDatasetKind,
  files: ValidatedFile[],
  origin: Manifest['origin'],
  from: string,
  nameOf: (f: ValidatedFile) => string = storedName,
  custom = false,
): Promise<void> {
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    kind,
    origin,
    from,
    savedAt: new Date().toISOString(),
    files: files.map((f) => ({ base: f.entry.base, name: nameOf(f), bytes: f.bytes.length, sha256: f.sha256 })),
    ...(custom ? { custom: true as const } : {}),
  };
  await writeFile(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2));
  await publishDir(staging, target);
}

/** `undefined` when the data directory has no copy; DATASET_CORRUPT when it has one that fails verification. */
export async function loadStored(
  dataDir: string,
  kind: IdxDatasetKind,
  onVerify?: (file: string) => void,
): Promise<{ manifest: Manifest; dir: string; train: Split; test: Split } | undefined> {
  const dir = datasetDir(dataDir, kind);
  const manifest = await readManifest(dataDir, kind);
  if (!manifest) return undefined;
  const manifestPath = path.join(dir, MANIFEST);
  const info = IDX_DATASETS[kind];
  const files: ValidatedFile[] = [];
  for (const entry of info.files) {
    const rec = manifest.files.find((f) => f.base === entry.base);
    if (!rec) throw badManifest(manifestPath, `an entry for ${entry.base}`, 'none');
    const p = path.join(dir, rec.name);
    onVerify?.(p);
    const bytes = await readBytes(p);
    const hash = sha256(bytes);
    if (hash !== rec.sha256) {
      throw new LabError('DATASET_CORRUPT', `${p}: changed since it was verified: expected SHA-256 ${rec.sha256}, found ${hash}`, {
        file: p,
        expected: rec.sha256,
        found: hash,
      });
    }
    files.push({ entry, path: p, bytes, sha256: hash, idx: await readIdx(bytes, { expect: entry.kind, name: p }) });
  }
  return { manifest, dir, ...pairSplits(info, files) };
}

/**
 * The data directory copy's manifest, unverified (its files are not read): `undefined` when there is no copy,
 * DATASET_CORRUPT when the manifest is unreadable.
 */
export async function readManifest(dataDir: string, kind: IdxDatasetKind): Promise<Manifest | undefined> {
  const manifestPath = path.join(datasetDir(dataDir, kind), MANIFEST);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    return undefined;
  }
  return parseManifest(text, manifestPath, kind);
}

/** readManifest, for a caller that cannot wait (a check made inside a synchronous launch). */
export function readManifestSync(dataDir: string, kind: IdxDatasetKind): Manifest | undefined {
  const manifestPath = path.join(datasetDir(dataDir, kind), MANIFEST);
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch {
    return undefined;
  }
  return parseManifest(text, manifestPath, kind);
}

function parseManifest(text: string, file: string, kind: IdxDatasetKind): Manifest {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch {
    throw badManifest(file, 'JSON', 'unparseable text');
  }
  if (m.version !== MANIFEST_VERSION) throw badManifest(file, `version ${MANIFEST_VERSION}`, `version ${String(m.version)}`);
  if (m.kind !== kind) throw badManifest(file, `kind ${kind}`, `kind ${String(m.kind)}`);
  if (!Array.isArray(m.files)) throw badManifest(file, 'a file list', 'none');
  return m as Manifest;
}

function badManifest(file: string, expected: string, found: string): LabError {
  return new LabError('DATASET_CORRUPT', `${file}: expected ${expected}, found ${found}`, { file, expected, found });
}
