/**
 * Files named on the command line (a checkpoint, a config, an export): read errors say which flag, which path and
 * why, in words a user can act on (exit code 2).
 */
import { readFile } from 'node:fs/promises';
import { LabError } from '../../src-shared/errors';
import { decodeCheckpoint, type Checkpoint } from '../engine/train/checkpoint';

/** Why a file could not be read or written, as a user can act on it. */
export function fileProblem(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'EISDIR':
      return 'it is a folder; give a file name';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    default:
      return (e as Error).message;
  }
}

/** The file's bytes; `flag` names the option (or argument) that gave the path. */
export async function readFileArgument(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `${flag}: cannot read ${path}: ${fileProblem(e)}`, { field: flag.startsWith('--') ? flag.slice(2) : 'file', path });
  }
}

/**
 * A text file's bytes as a string, without the byte order mark Windows tools write at the start (JSON.parse refuses
 * it: "Unexpected token '\uFEFF'"). Notepad writes UTF-8 with one; Windows PowerShell 5.1's `>` and Out-File write
 * UTF-16LE (FF FE), the default shell of Windows 10 and 11; Notepad can save UTF-16BE (FE FF). No mark: UTF-8.
 */
export function textOf(bytes: Uint8Array): string {
  const encoding = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : 'utf-8';
  return new TextDecoder(encoding).decode(bytes); // ignoreBOM false: a leading BOM is dropped
}

export async function readCheckpointFile(path: string, flag: string): Promise<{ bytes: Uint8Array; checkpoint: Checkpoint }> {
  const bytes = await readFileArgument(path, flag);
  return { bytes, checkpoint: decodeCheckpoint(bytes, path) };
}
