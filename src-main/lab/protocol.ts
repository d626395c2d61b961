/** Messages between the runner and a training process (child_process IPC, 'advanced' serialisation). */
import type { RunConfig } from '../../src-shared/run-config';
import type { RunEvent, TestingProgress } from '../../src-shared/run-events';
import type { DataProgress } from '../data/types';

export interface StartMessage {
  type: 'start';
  config: RunConfig;
  dataDir?: string;
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  /** Resume from this checkpoint (the engine's checkpoint bytes). */
  resumeFrom?: Uint8Array;
  /** The checkpoint is the run's own and the run goes on (TrainOptions.continuing). */
  continuing?: boolean;
  /** Gradient worker threads per training step (TrainOptions.workers); 1 or absent: single-threaded. */
  workers?: number;
  /** Take a resume point every this many minutes of training (TrainOptions.resumePointMinutes); 0 or absent: only on a cancel. */
  resumePointMinutes?: number;
}

export interface CancelMessage {
  type: 'cancel';
}

export type ToTrainer = StartMessage | CancelMessage;

/**
 * A checkpoint's bytes, sent just before its 'checkpoint' event; the parent decides where they are kept. With
 * `batch`, a resume point: `epoch` is then the epoch in progress and `batch` its batches done.
 */
export interface CheckpointData {
  epoch: number;
  batch?: number;
  step: number;
  bytes: Uint8Array;
}

export type FromTrainer =
  | { type: 'event'; event: RunEvent }
  /** Loading the dataset: a source skipped, a download or a generation under way. */
  | { type: 'progress'; progress: DataProgress }
  /** A test-set evaluation under way. */
  | { type: 'testing'; progress: TestingProgress }
  | ({ type: 'checkpoint-data' } & CheckpointData);

/**
 * Signals a terminal (Ctrl-C, closing; Ctrl-Break on Windows: SIGBREAK, never sent elsewhere) or a service manager
 * sends the whole process group, the training process too: it ignores them and lets the runner decide
 * (train-process.ts).
 */
export const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGBREAK'];

/** The exit code of a Windows console process ended by Ctrl-C or Ctrl-Break before it could ignore them. */
const STATUS_CONTROL_C_EXIT = 0xc000013a;

/**
 * Whether a training process that died without saying 'ended' was stopped by the user: killed by them (a second
 * Ctrl-C, runs cancel --now), or cancelled and then ended by the terminal's own signal, which reached it in its
 * first second, before it could ignore it. POSIX tells that by the signal; Windows by the exit code, with no signal.
 */
export function stoppedByUser(
  user: { killed: boolean; cancelled: boolean },
  exit: { code: number | null; signal: NodeJS.Signals | null },
  platform: NodeJS.Platform = process.platform,
): boolean {
  if (user.killed) return true;
  if (!user.cancelled) return false;
  if (exit.signal !== null) return TERMINAL_SIGNALS.includes(exit.signal);
  return platform === 'win32' && exit.code === STATUS_CONTROL_C_EXIT;
}
