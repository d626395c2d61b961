/**
 * A run's folder (`--out`): the check before a run may use one, the run.json that says which run owns it, and the
 * writer of its files (events.jsonl, checkpoints/epoch-NNN.ckpt, checkpoints/resume.ckpt).
 */
import {
  accessSync,
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { LabError } from '../../src-shared/errors';
import type { RunConfig } from '../../src-shared/run-config';
import type { RunEvent } from '../../src-shared/run-events';
import type { CheckpointData } from './protocol';
import { lockFolder } from './folder-lock';
import { makeDirectory } from '../platform/make-directory';
import { renameSyncRetrying } from '../platform/rename';
import { isThisProcess, processAlive, type OwnerRecord } from '../store/process-identity';

/** Which run a folder belongs to (run.json): its id and creation time in the store that recorded it. */
export interface FolderOwner {
  runId: number;
  createdAt: string;
  /** The store's file (absolute), for whoever opens the folder by hand. */
  store: string;
  /** The process writing the run into the folder, while it does (released when the run ends): a live one keeps any other run out. */
  pid?: number;
  host?: string;
  /** That process's start token (process-identity.ts), so a later process given its pid is not taken for it; absent in older run.json files. */
  started?: string | null;
}

const OWNER_FILE = 'run.json';
/** A run's resume point in its folder's checkpoints/ (the epochs' are epoch-NNN.ckpt). */
export const RESUME_POINT_FILE = 'resume.ckpt';

function readOwner(dir: string): FolderOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Partial<FolderOwner>;
    return typeof o.runId === 'number' && typeof o.createdAt === 'string' ? (o as FolderOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** Written to a temp name, then renamed: a reader never sees half a run.json. */
function writeOwner(dir: string, owner: FolderOwner): void {
  const tmp = join(dir, `${OWNER_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(owner, null, 2) + '\n');
  renameSyncRetrying(tmp, join(dir, OWNER_FILE));
}

/** run.json's process, as processAlive judges it. */
const writer = (o: FolderOwner): OwnerRecord => ({ pid: o.pid ?? null, host: o.host ?? null, started: o.started });

const sameRun = (a: Pick<FolderOwner, 'runId' | 'createdAt'>, b: Pick<FolderOwner, 'runId' | 'createdAt'>) =>
  a.runId === b.runId && a.createdAt === b.createdAt;

/** Another run's process, alive, writing into the folder (what keeps any other run out of it). */
function liveOtherOwner(dir: string, run?: Pick<FolderOwner, 'runId' | 'createdAt'>): FolderOwner | undefined {
  const owner = readOwner(dir);
  if (!owner || owner.pid === undefined || (run && sameRun(owner, run))) return undefined;
  return processAlive(writer(owner)) ? owner : undefined;
}

const describeOwner = (o: FolderOwner) => `run ${o.runId} of ${o.store} (created ${o.createdAt})`;

/** Why the folder cannot be used, named as the user gave it (`label`: --out, or "run 7's folder"). */
function folderError(label: string, dir: string, why: string): LabError {
  return new LabError('INVALID_ARGUMENT', `${label} ${dir}: ${why}`, { field: 'outDir', path: dir });
}

function inUse(label: string, dir: string, o: FolderOwner, hint: string): LabError {
  return folderError(
    label,
    dir,
    `in use: process ${o.pid} is writing ${describeOwner(o)} into it; ${hint} (if that process is gone, delete "pid" from ${join(dir, OWNER_FILE)})`,
  );
}

/**
 * Marks the folder as this run's, so a resume can tell its own folder from one another run has since taken, and
 * no other run uses it while this one is written. Checked again here (another process may have claimed it since
 * checkRunFolder), under the folder's lock (folder-lock.ts), so that of two processes claiming it at once one
 * sees the other's run.json; a folder where the file cannot be written is refused. Returns the undo, for a run
 * that did not come to be (its transaction failed): run.json as it was.
 */
export function claimRunFolder(dir: string, owner: FolderOwner): () => void {
  let unlock: () => void;
  try {
    unlock = lockFolder(dir);
  } catch (e) {
    throw folderError('--out', dir, (e as Error).message);
  }
  const path = join(dir, OWNER_FILE);
  let before: Buffer | undefined;
  try {
    const other = liveOtherOwner(dir, owner);
    if (other) throw inUse('--out', dir, other, 'choose an empty or new folder');
    before = existsSync(path) ? readFileSync(path) : undefined;
    try {
      writeOwner(dir, owner);
    } catch (e) {
      throw folderError('--out', dir, `cannot write ${OWNER_FILE}: ${(e as Error).message}`);
    }
  } finally {
    unlock();
  }
  // No lock needed to undo: until then run.json names this live process, which keeps every other claim out.
  return () => {
    try {
      if (before === undefined) rmSync(path, { force: true });
      else writeFileSync(path, before);
    } catch {
      // The folder went away: nothing to put back.
    }
  };
}

/** The run written into `dir` has ended: its run.json keeps naming it, but no process holds the folder any more. */
export function releaseRunFolder(dir: string): void {
  const owner = readOwner(dir);
  if (!owner || !isThisProcess(writer(owner))) return;
  const { pid: _pid, host: _host, started: _started, ...named } = owner;
  try {
    writeOwner(dir, named);
  } catch {
    // The folder went away or became read-only: nothing left to release.
  }
}

export interface FolderUse {
  /** The run that resumes into the folder (unset: a new run). */
  resuming?: { config: RunConfig; owner: Pick<FolderOwner, 'runId' | 'createdAt'> };
  /** How the folder is named in a refusal (default --out). */
  label?: string;
  /** How a refusal ends: what to do instead. */
  hint?: string;
}

/**
 * Whether a run may use `dir`, without touching it: refuses a path that is a file, a folder a live process is
 * writing another run into (its run.json), or a folder that holds another run's files, whose events and
 * checkpoints this run would mix with its own. A new run needs a folder without a trained run; a resumed run may
 * continue its own folder: the one its run.json names (claimRunFolder), or for a folder without one (written
 * before run.json existed, or by the runner alone), the one whose event log starts with its config. Returns
 * whether the folder is the resuming run's own.
 */
export function checkRunFolder(dir: string, { resuming, label = '--out', hint = 'choose an empty or new folder' }: FolderUse = {}): boolean {
  const refuse = (why: string): never => {
    throw folderError(label, dir, why);
  };
  if (!existsSync(dir)) {
    // To be created: under a file, or in a folder this user cannot write, it cannot be.
    let parent = dirname(dir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    // Up to a root that does not exist either: a Windows drive letter nothing is mapped to (Z:\), a gone share.
    if (!existsSync(parent)) refuse(`cannot be created: ${parent} does not exist (a drive or share that is not there?)`);
    if (!statSync(parent).isDirectory()) refuse(`cannot be created: ${parent} is a file`);
    try {
      accessSync(parent, constants.W_OK);
    } catch {
      refuse(`cannot be created: no permission to write in ${parent}`);
    }
    return false;
  }
  if (!statSync(dir).isDirectory()) refuse('is a file, not a folder');
  const head = readLogHead(join(dir, 'events.jsonl'));
  const checkpoints = join(dir, 'checkpoints');
  // Checkpoint files (or their temporaries) only: Finder's .DS_Store or Explorer's desktop.ini in an empty folder is no run.
  const hasCheckpoints =
    existsSync(checkpoints) && statSync(checkpoints).isDirectory() && readdirSync(checkpoints).some((name) => /\.ckpt(\.tmp)?$/.test(name));
  const trained = hasCheckpoints || (head?.includes('"event":"batch"') ?? false);
  const owner = readOwner(dir);
  const own =
    resuming !== undefined &&
    (owner ? sameRun(owner, resuming.owner) : head !== undefined && isDeepStrictEqual(loggedConfig(head), resuming.config));
  const live = liveOtherOwner(dir, resuming?.owner);
  if (live) throw inUse(label, dir, live, hint);
  if (trained && !own) refuse(`already holds ${owner ? describeOwner(owner) : resuming ? 'another run' : 'a run'} (events.jsonl, checkpoints/); ${hint}`);
  return own;
}

/**
 * Prepares `dir` for a run, or refuses it (checkRunFolder): the log of an attempt that never trained a batch (it
 * failed at once: a wrong flag) is removed, so the corrected command can use the folder (the store keeps its
 * record), and the folder is created now, so a path that cannot be (under a file, no permission) is refused
 * before the run exists.
 */
export function prepareRunFolder(dir: string, use: FolderUse = {}): void {
  const own = checkRunFolder(dir, use);
  const log = join(dir, 'events.jsonl');
  if (!own && existsSync(log)) rmSync(log);
  const checkpoints = join(dir, 'checkpoints');
  try {
    makeDirectory(checkpoints);
  } catch (e) {
    throw folderError(use.label ?? '--out', dir, `cannot create ${checkpoints}: ${(e as Error).message}`);
  }
}

/** The first megabyte of an event log (its 'started' line is a few kilobytes), or undefined when there is none. */
function readLogHead(log: string): string | undefined {
  if (!existsSync(log)) return undefined;
  const head = Buffer.alloc(1 << 20);
  const fd = openSync(log, 'r');
  try {
    return head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The config in a log's first line, if it is a readable 'started' event. */
function loggedConfig(head: string): unknown {
  try {
    const e = JSON.parse(head.split('\n', 1)[0]) as { event?: string; config?: unknown };
    return e.event === 'started' ? e.config : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A run's files: the event log, and checkpoints written to a temp name then renamed (never half a file). They are a
 * copy of what the run store records: a write that fails (disk full, the folder removed, a file held open on
 * Windows past the rename's retries) is told through `onError`, once per file, and training goes on.
 */
export class RunFolder {
  private readonly log: WriteStream;
  private logFailed = false;
  /** The file the last checkpoint went to; undefined when its write failed. */
  lastCheckpointPath: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly onError: (problem: string) => void = () => {},
  ) {
    makeDirectory(join(dir, 'checkpoints'));
    this.log = createWriteStream(join(dir, 'events.jsonl'), { flags: 'a' });
    // A stream's error with no listener would end the whole process (the CLI), not just the log.
    this.log.on('error', (e) => {
      if (this.logFailed) return;
      this.logFailed = true;
      this.onError(`cannot write ${join(dir, 'events.jsonl')}: ${e.message}; its events are no longer logged there`);
    });
  }

  writeEvent(e: RunEvent): void {
    if (!this.logFailed) this.log.write(JSON.stringify(e) + '\n');
  }

  /**
   * An epoch's checkpoint as epoch-NNN.ckpt; a resume point (`batch` set) as resume.ckpt, replacing the last one.
   * An epoch's checkpoint is later than any resume point the folder holds (a run resumes from the later of the
   * two), so it removes resume.ckpt: `train --resume` of that file would go back in time.
   */
  writeCheckpoint(c: CheckpointData): void {
    const name = c.batch === undefined ? `epoch-${String(c.epoch).padStart(3, '0')}.ckpt` : RESUME_POINT_FILE;
    const path = join(this.dir, 'checkpoints', name);
    this.lastCheckpointPath = undefined;
    try {
      writeFileSync(`${path}.tmp`, c.bytes);
      renameSyncRetrying(`${path}.tmp`, path);
      if (c.batch === undefined) rmSync(join(this.dir, 'checkpoints', RESUME_POINT_FILE), { force: true });
      this.lastCheckpointPath = path;
    } catch (e) {
      rmSync(`${path}.tmp`, { force: true, recursive: true });
      this.onError(`cannot write ${path}: ${(e as Error).message}; the run store keeps the checkpoint`);
    }
  }

  close(): void {
    this.log.end();
  }
}
