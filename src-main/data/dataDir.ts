/**
 * Where the lab keeps datasets: `ODELAB_DATA_DIR`, else the platform's per-user app-data folder, + `/datasets`.
 * Parameters are injectable so the per-platform rules are testable on any machine. Filesystem errors met in
 * the data directory become LabErrors naming it (withDataDir).
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { LabError, isLabError } from '../../src-shared/errors';

const APP = 'neural-ode-lab';

/** The lab's own folder in the user's app-data directory (the datasets and the run store live in it by default). */
export function appDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  // Path flavour follows the target platform, not the host, so a Windows path is built with `\` even in tests.
  const p = platform === 'win32' ? path.win32 : path.posix;
  if (platform === 'win32') return p.join(env.APPDATA ?? p.join(home, 'AppData', 'Roaming'), APP);
  if (platform === 'darwin') return p.join(home, 'Library', 'Application Support', APP);
  return p.join(env.XDG_DATA_HOME || p.join(home, '.local', 'share'), APP);
}

export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (env.ODELAB_DATA_DIR) return path.resolve(env.ODELAB_DATA_DIR);
  const p = platform === 'win32' ? path.win32 : path.posix;
  return p.join(appDataDir(env, platform, home), 'datasets');
}

/**
 * Runs `work` (reads and writes under `dataDir`), turning a filesystem error into INVALID_ARGUMENT that names the
 * data directory and what is wrong with it (a file where a folder should be, no write permission, …), so the
 * user can pass another one; when nothing is wrong with the directory itself (disk full, I/O error), IO_ERROR.
 * LabErrors and other errors pass through unchanged.
 */
export async function withDataDir<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (isLabError(e) || !(e instanceof Error) || typeof code !== 'string') throw e;
    const problem = await diagnoseDataDir(dataDir);
    const details = { dataDir, errno: code, cause: e.message };
    if (!problem) throw new LabError('IO_ERROR', `cannot read or write the data directory ${dataDir}: ${e.message}`, details);
    throw new LabError('INVALID_ARGUMENT', `cannot use the data directory ${dataDir}: ${problem}`, details);
  }
}

/** `dataDir` (resolved), or its nearest existing ancestor, and whether that is a directory; undefined: none readable. */
async function nearestExisting(dir: string): Promise<{ path: string; isDir: boolean } | undefined> {
  for (let p = dir; ; ) {
    try {
      return { path: p, isDir: (await stat(p)).isDirectory() };
    } catch (e) {
      const parent = path.dirname(p);
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === p) return undefined;
      p = parent;
    }
  }
}

const fileInTheWay = (dir: string, found: { path: string; isDir: boolean }) =>
  found.isDir ? undefined : found.path === dir ? 'it is a file, not a directory' : `${found.path} is a file, not a directory`;

/**
 * Refuses a data directory that is a file or lies under one (INVALID_ARGUMENT naming it): a mistaken path. Commands
 * that only read datasets call it first, or they would quietly fall back to another copy (the system's, a download).
 */
export async function checkDataDirPath(dataDir: string): Promise<void> {
  const dir = path.resolve(dataDir);
  const found = await nearestExisting(dir);
  const problem = found && fileInTheWay(dir, found);
  if (problem) throw new LabError('INVALID_ARGUMENT', `cannot use the data directory ${dataDir}: ${problem}`, { dataDir });
}

/** What keeps `dataDir` from being used as a writable directory, looking at it and its nearest existing ancestor. */
async function diagnoseDataDir(dataDir: string): Promise<string | undefined> {
  const dir = path.resolve(dataDir);
  const found = await nearestExisting(dir);
  if (!found) return undefined;
  const problem = fileInTheWay(dir, found);
  if (problem) return problem;
  try {
    await access(found.path, constants.W_OK);
  } catch {
    return found.path === dir ? 'it is not writable' : `${found.path} is not writable, so the directory cannot be created there`;
  }
  return undefined;
}
