/**
 * A run folder's lock across processes, so that checking who holds the folder and writing run.json happen as one
 * step: two processes claiming one folder at the same instant could otherwise both pass the check. The lock is a
 * file, run.lock, created with O_EXCL (of two creators exactly one succeeds) and holding its process (pid, host,
 * start token). Synchronous: a claim runs inside an SQLite transaction.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, THIS_PROCESS, type OwnerRecord } from '../store/process-identity';
import { sleepSync } from '../platform/sleep';

export const LOCK_FILE = 'run.lock';
/** A claim holds the lock for a millisecond or so: one this old was left by a process stuck or gone. */
const STALE_MS = 5_000;
/** How long to wait for a live holder before giving up. */
const WAIT_MS = 2_000;
const RETRY_MS = 10;

interface Holder {
  /** Unset while its creator has not written it yet (or wrote something unreadable). */
  owner?: OwnerRecord;
  ino: number;
  ageMs: number;
}

/** The lock file as it is now, or undefined once it is gone. */
function readHolder(path: string): Holder | undefined {
  try {
    const { ino, mtimeMs } = statSync(path);
    let owner: OwnerRecord | undefined;
    try {
      const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<OwnerRecord>;
      if (typeof o.pid === 'number' && typeof o.host === 'string') owner = { pid: o.pid, host: o.host, started: o.started ?? null };
    } catch {
      // Empty (its creator is writing it) or damaged: judged by its age alone.
    }
    return { owner, ino, ageMs: Date.now() - mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Removes the lock at `path` if it is still the file `ino` (not one another process has created since). Between
 * the check and the unlink lies a window of microseconds in which two processes taking over one dead lock could
 * still collide; only a lock left by a crash gets here.
 */
function removeIfSame(path: string, ino: number): void {
  try {
    if (statSync(path).ino === ino) unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Creates the lock, or returns undefined if another process holds it. Returns the lock file's inode. */
function tryCreate(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw new Error(`cannot create ${LOCK_FILE}: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(THIS_PROCESS));
    return fstatSync(fd).ino;
  } catch (e) {
    unlinkSync(path);
    throw new Error(`cannot write ${LOCK_FILE}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes `dir`'s lock, waiting up to WAIT_MS for a live holder; a lock whose process is dead (processAlive) or
 * that is older than STALE_MS is taken over. Returns the release. Throws an Error saying why the lock could not
 * be had (held by a live process all that time, or the file cannot be created).
 */
export function lockFolder(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const ino = tryCreate(path);
    if (ino !== undefined) return () => removeIfSame(path, ino);
    const holder = readHolder(path);
    if (!holder) continue; // released meanwhile
    if (holder.ageMs > STALE_MS || (holder.owner && !processAlive(holder.owner))) {
      removeIfSame(path, holder.ino);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder.owner ? `process ${holder.owner.pid}` : 'another process';
      throw new Error(`in use: ${who} is claiming it (${path}); try again`);
    }
    sleepSync(RETRY_MS);
  }
}
