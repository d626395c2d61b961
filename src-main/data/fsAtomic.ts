/**
 * Atomic publication on disk: content is written under a temporary name in the same directory (same file
 * system, so rename is atomic) and renamed into place only once complete. A crash or cancel leaves only
 * `.tmp-*` / `.staging-*` names, which no reader looks at.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from '../platform/make-directory';
import { renameRetrying as rename } from '../platform/rename';

const STALE_MS = 24 * 3600 * 1000;

export function tempName(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `target` whole or not at all. A file it replaces keeps its permissions (a 0600 export stays private), and,
 * when running as root, its owner and group: the new content is a new file, which would otherwise get the defaults.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempName(target);
  const replaced = await stat(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  try {
    const file = await open(tmp, 'wx');
    try {
      // Before the data goes in, so a private file's content is never readable by more. Owner first: chown clears
      // set-id bits; only the permission bits are carried over, never set-id ones.
      if (replaced?.isFile()) {
        if (process.getuid?.() === 0) await file.chown(replaced.uid, replaced.gid);
        await file.chmod(replaced.mode & 0o777);
      }
      await file.writeFile(data);
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * writeFileAtomic that refuses (EEXIST) to replace an existing file: the publishing itself is the check (a hard link
 * fails if the name exists), so a file made meanwhile is not overwritten either. Where hard links fail — FAT and
 * exFAT drives, some network shares, with codes that vary by system (Linux EPERM; Windows reports FAT's
 * ERROR_INVALID_FUNCTION as EISDIR, a share may say EACCES) — an exclusive copy does the same job and gives the
 * real error if there is one. `linkFile` is there for tests: no file system here refuses links as Windows does.
 */
export async function writeNewFileAtomic(
  target: string,
  data: Uint8Array | string,
  linkFile: (existing: string, name: string) => Promise<void> = link,
): Promise<void> {
  const tmp = tempName(target);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    try {
      await linkFile(tmp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e;
      await copyFile(tmp, target, constants.COPYFILE_EXCL);
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A fresh staging directory beside `target` (created with its parents). */
export async function makeStaging(target: string): Promise<string> {
  makeDirectory(path.dirname(target));
  return mkdtemp(path.join(path.dirname(target), `.staging-${path.basename(target)}-`));
}

/**
 * Moves a complete staging directory to `target`, replacing what was there. Directories cannot be renamed over
 * a non-empty one, so the old copy is first moved aside; between the two renames `target` is briefly absent,
 * never half-written.
 */
export async function publishDir(staging: string, target: string): Promise<void> {
  const aside = `${path.join(path.dirname(target), '.old-' + path.basename(target))}-${randomBytes(6).toString('hex')}`;
  let moved = false;
  try {
    await rename(target, aside);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    await rename(staging, target);
  } catch (e) {
    if (moved) await rename(aside, target); // put the previous copy back
    throw e;
  }
  // The new copy is in place: an old one that cannot be removed now (a file in it held open on Windows) is left for
  // sweepStale, not reported as a failed publication.
  if (moved) await rm(aside, { recursive: true, force: true }).catch(() => undefined);
}

/** Removes leftovers of interrupted writes older than a day (younger ones may belong to a running process). */
export async function sweepStale(dir: string, now = Date.now()): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^\.(tmp|staging|old)-/.test(name)) continue;
    const p = path.join(dir, name);
    try {
      if (now - (await stat(p)).mtimeMs > STALE_MS) await rm(p, { recursive: true, force: true });
    } catch {
      // raced with another process's cleanup: nothing to do
    }
  }
}
