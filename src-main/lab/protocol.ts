/** Messages between the runner and a training process (child_process IPC, 'advanced' serialisation). */
import type { RunConfig } from '../../src-shared/run-config';
import type { RunEvent } from '../../src-shared/run-events';

export interface StartMessage {
  type: 'start';
  config: RunConfig;
  /** Where checkpoints go. */
  outDir: string;
  dataDir?: string;
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  /** Resume from this checkpoint file. */
  resumeFrom?: string;
  /** Gradient worker threads per training step (TrainOptions.workers); 1 or absent: single-threaded. */
  workers?: number;
}

export interface CancelMessage {
  type: 'cancel';
}

export type ToTrainer = StartMessage | CancelMessage;

export type FromTrainer = { type: 'event'; event: RunEvent } | { type: 'progress'; message: string };
