/**
 * One training session in a training process: loads the engine and the dataset, trains, and streams the events
 * back to the runner. Loaded by train-process.ts once its signal handling is in place (the engine's imports take
 * about a second).
 */
import { initEngine, slowBackendNote } from '../engine';
import { errorInfo, train } from '../engine/train/trainer';
import { loadDataset } from '../data';
import type { EndedEvent, RunEvent } from '../../src-shared/run-events';
import type { FromTrainer, StartMessage } from './protocol';

const unsent = new Set<Promise<void>>();

/**
 * Sends a message to the runner; resolves once it is handed to the channel. The process waits for every send
 * before it disconnects, or a large message (a checkpoint) still queued would be lost with the 'ended' after it.
 */
function send(message: FromTrainer): Promise<void> {
  const sent = new Promise<void>((resolve) => {
    if (process.send) process.send(message, undefined, {}, () => resolve());
    else resolve();
  });
  unsent.add(sent);
  void sent.then(() => unsent.delete(sent));
  return sent;
}

/** Trains the run `msg` asks for, streaming its events to the runner, until it ends or `signal` stops it. */
export async function runSession(msg: StartMessage, signal: AbortSignal): Promise<void> {
  await run(msg, signal);
  // Every message handed to the channel before the entry disconnects (a checkpoint still queued would be lost).
  await Promise.all(unsent);
}

async function run(msg: StartMessage, signal: AbortSignal): Promise<void> {
  const emit = (event: RunEvent) => void send({ type: 'event', event });
  try {
    const selection = await initEngine({ backend: msg.backend });
    const { backend } = selection;
    const dataset = await loadDataset(msg.config.dataset, {
      dataDir: msg.dataDir,
      signal: signal,
      onProgress: (progress) => send({ type: 'progress', progress }),
    });
    await train(msg.config, {
      dataset,
      backend,
      backendNote: slowBackendNote(selection),
      onEvent: emit,
      onTesting: (progress) => void send({ type: 'testing', progress }),
      signal: signal,
      resumeFrom: msg.resumeFrom,
      continuing: msg.continuing,
      workers: msg.workers,
      resumePointMinutes: msg.resumePointMinutes,
      // The parent keeps checkpoints (run store, files): send the bytes up, in order with the events.
      saveCheckpoint: (bytes, epoch, step) => send({ type: 'checkpoint-data', epoch, step, bytes }),
      saveResumePoint: (bytes, at) => send({ type: 'checkpoint-data', ...at, bytes }),
    });
  } catch (e) {
    const ended: EndedEvent = {
      event: 'ended',
      status: signal.aborted ? 'cancelled' : 'failed',
      epochsCompleted: 0,
      step: 0,
      seconds: 0,
      error: errorInfo(e),
    };
    emit(ended);
  }
}
