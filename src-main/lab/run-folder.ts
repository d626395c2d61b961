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

/** Which run a folder belongs to (run.json): its id and creation time in the store that recorded it. */
export interface FolderOwner {
  runId: number;
  createdAt: string;
  /** The store's file, for whoever opens the folder by hand. */
  store: string;
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

/** Marks the folder as this run's, so a resume can tell its own folder from one another run has since taken. */
export function claimRunFolder(dir: string, owner: FolderOwner): void {
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n');
}

/**
 * Prepares an `outDir` before a run is created for it, or refuses it: a path that is a file or cannot be created,
 * or a folder that holds another run's files, whose events and checkpoints this run would mix with its own. A new
 * run (`resuming` unset) needs a folder without a trained run; a resumed run may continue its own folder: the one
 * its run.json names (claimRunFolder), or for a folder without one (written before run.json existed, or by the
 * runner alone), the one whose event log starts with its config. The log of an attempt that never trained a batch
 * (it failed at once: a wrong flag) is removed, so the corrected command can use the folder; the store keeps its
 * record. `hint` ends a refusal (how to choose another folder).
 */
export function prepareRunFolder(
  dir: string,
  { resuming, label = '--out', hint = 'choose an empty or new folder' }: { resuming?: { config: RunConfig; owner: FolderOwner }; label?: string; hint?: string } = {},
): void {
  const refuse = (why: string) => {
    throw new LabError('INVALID_ARGUMENT', `${label} ${dir}: ${why}`, { field: 'outDir', path: dir });
  };
  if (existsSync(dir) && !statSync(dir).isDirectory()) refuse('is a file, not a folder');
  const log = join(dir, 'events.jsonl');
  const checkpoints = join(dir, 'checkpoints');
  const head = readLogHead(log);
  const hasCheckpoints = existsSync(checkpoints) && statSync(checkpoints).isDirectory() && readdirSync(checkpoints).length > 0;
  const trained = hasCheckpoints || (head?.includes('"event":"batch"') ?? false);
  const owner = readOwner(dir);
  const own =
    resuming !== undefined &&
    (owner
      ? owner.runId === resuming.owner.runId && owner.createdAt === resuming.owner.createdAt
      : head !== undefined && isDeepStrictEqual(loggedConfig(head), resuming.config));
  if (trained && !own) {
    const whose = owner ? `run ${owner.runId} of ${owner.store}` : resuming ? 'another run' : 'a run';
    refuse(`already holds ${whose} (events.jsonl, checkpoints/); ${hint}`);
  }
  if (head !== undefined && !own) rmSync(log);
  // Created now, so a path that cannot be (under a file, no permission) is refused before the run exists.
  try {
    mkdirSync(checkpoints, { recursive: true });
  } catch (e) {
    refuse(`cannot create ${checkpoints}: ${(e as Error).message}`);
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
