/**
 * A run's folder (`--out`): the check before a run may use one, the run.json that says which run owns it, and the
 * writer of its files (events.jsonl, checkpoints/epoch-NNN.ckpt).
 */
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { LabError } from '../../src-shared/errors';
import type { RunConfig } from '../../src-shared/run-config';
import type { RunEvent } from '../../src-shared/run-events';
import type { CheckpointData } from './protocol';
import { processAlive } from '../store/runs';

/** Which run a folder belongs to (run.json): its id and creation time in the store that recorded it. */
export interface FolderOwner {
  runId: number;
  createdAt: string;
  /** The store's file (absolute), for whoever opens the folder by hand. */
  store: string;
  /** The process writing the run into the folder, while it does (released when the run ends): a live one keeps any other run out. */
  pid?: number;
  host?: string;
}

const OWNER_FILE = 'run.json';

function readOwner(dir: string): FolderOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Partial<FolderOwner>;
    return typeof o.runId === 'number' && typeof o.createdAt === 'string' ? (o as FolderOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Marks the folder as this run's, so a resume can tell its own folder from one another run has since taken, and
 * no other run uses it while this one is written. A folder where the file cannot be written is refused.
 */
export function claimRunFolder(dir: string, owner: FolderOwner): void {
  try {
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n');
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `--out ${dir}: cannot write ${OWNER_FILE}: ${(e as Error).message}`, { field: 'outDir', path: dir });
  }
}

/** The run written into `dir` has ended: its run.json keeps naming it, but no process holds the folder any more. */
export function releaseRunFolder(dir: string): void {
  const owner = readOwner(dir);
  if (owner?.pid !== process.pid) return;
  const { pid: _pid, host: _host, ...named } = owner;
  try {
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify(named, null, 2) + '\n');
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
    throw new LabError('INVALID_ARGUMENT', `${label} ${dir}: ${why}`, { field: 'outDir', path: dir });
  };
  if (!existsSync(dir)) return false;
  if (!statSync(dir).isDirectory()) refuse('is a file, not a folder');
  const head = readLogHead(join(dir, 'events.jsonl'));
  const checkpoints = join(dir, 'checkpoints');
  const hasCheckpoints = existsSync(checkpoints) && statSync(checkpoints).isDirectory() && readdirSync(checkpoints).length > 0;
  const trained = hasCheckpoints || (head?.includes('"event":"batch"') ?? false);
  const owner = readOwner(dir);
  const own =
    resuming !== undefined &&
    (owner
      ? owner.runId === resuming.owner.runId && owner.createdAt === resuming.owner.createdAt
      : head !== undefined && isDeepStrictEqual(loggedConfig(head), resuming.config));
  const ownerName = owner && `run ${owner.runId} of ${owner.store} (created ${owner.createdAt})`;
  if (owner && !own && owner.pid !== undefined && processAlive(owner.pid, owner.host ?? null)) {
    refuse(`in use: process ${owner.pid} is writing ${ownerName} into it; ${hint}`);
  }
  if (trained && !own) refuse(`already holds ${ownerName ?? (resuming ? 'another run' : 'a run')} (events.jsonl, checkpoints/); ${hint}`);
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
    mkdirSync(checkpoints, { recursive: true });
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `${use.label ?? '--out'} ${dir}: cannot create ${checkpoints}: ${(e as Error).message}`, {
      field: 'outDir',
      path: dir,
    });
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

/** A run's files: the event log, and checkpoints written to a temp name then renamed (never half a file). */
export class RunFolder {
  private readonly log: WriteStream;
  lastCheckpointPath: string | undefined;

  constructor(private readonly dir: string) {
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    this.log = createWriteStream(join(dir, 'events.jsonl'), { flags: 'a' });
  }

  writeEvent(e: RunEvent): void {
    this.log.write(JSON.stringify(e) + '\n');
  }

  writeCheckpoint(c: CheckpointData): void {
    const path = join(this.dir, 'checkpoints', `epoch-${String(c.epoch).padStart(3, '0')}.ckpt`);
    writeFileSync(`${path}.tmp`, c.bytes);
    renameSync(`${path}.tmp`, path);
    this.lastCheckpointPath = path;
  }

  close(): void {
    this.log.end();
  }
}
