/** Reads a checkpoint file named on the command line; errors name the flag and the path (exit code 2). */
import { readFile } from 'node:fs/promises';
import { LabError } from '../../src-shared/errors';
import { decodeCheckpoint, type Checkpoint } from '../engine/train/checkpoint';

export async function readCheckpointFile(path: string, flag: string): Promise<{ bytes: Uint8Array; checkpoint: Checkpoint }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new LabError('INVALID_ARGUMENT', `${flag}: cannot read ${path}: ${why}`, { field: flag.replace(/^--/, ''), path });
  }
  return { bytes, checkpoint: decodeCheckpoint(bytes, path) };
}
