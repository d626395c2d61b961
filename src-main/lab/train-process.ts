/**
 * Entry point of a training process: receives one 'start' message, trains, streams events back and exits.
 * Run by the Runner (child_process.fork here; Electron's utilityProcess later) — never imported by the parent.
 */
import { initEngine, slowBackendNote } from '../engine';
import { errorInfo, train } from '../engine/train/trainer';
import { loadDataset } from '../data';
import type { EndedEvent, RunEvent } from '../../src-shared/run-events';
import type { FromTrainer, StartMessage, ToTrainer } from './protocol';

const controller = new AbortController();

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

async function run(msg: StartMessage): Promise<void> {
  const emit = (event: RunEvent) => void send({ type: 'event', event });
  try {
    const selection = await initEngine({ backend: msg.backend });
    const { backend } = selection;
    const dataset = await loadDataset(msg.config.dataset, {
      dataDir: msg.dataDir,
      signal: controller.signal,
      onProgress: (progress) => send({ type: 'progress', progress }),
    });
    await train(msg.config, {
      dataset,
      backend,
      backendNote: slowBackendNote(selection),
      onEvent: emit,
      onTesting: (progress) => void send({ type: 'testing', progress }),
      signal: controller.signal,
      resumeFrom: msg.resumeFrom,
      continuing: msg.continuing,
      workers: msg.workers,
      // The parent keeps checkpoints (run store, files): send the bytes up, in order with the events.
      saveCheckpoint: (bytes, epoch, step) => send({ type: 'checkpoint-data', epoch, step, bytes }),
    });
  } catch (e) {
    const ended: EndedEvent = {
      event: 'ended',
      status: controller.signal.aborted ? 'cancelled' : 'failed',
      epochsCompleted: 0,
      step: 0,
      seconds: 0,
      error: errorInfo(e),
    };
    emit(ended);
  }
}

// The parent is gone (killed, crashed): stop at the next batch instead of training on as an orphan, and let the
// signals ignored below stop this process again (nobody else will decide what they mean).
process.on('disconnect', () => {
  controller.abort();
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.removeAllListeners(signal);
});
// A terminal's Ctrl-C, its closing (SIGHUP), or a service manager's SIGTERM reaches the whole process group, this
// process too. The parent decides what each means (stop after the batch; kill), so ignore them here rather than
// die mid-batch as a crash; if the parent dies instead, the disconnect above stops this process.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => {});

process.on('message', (msg: ToTrainer) => {
  if (msg.type === 'cancel') controller.abort();
  else if (msg.type === 'start') {
    void run(msg)
      .then(() => Promise.all(unsent))
      .finally(() => process.connected && process.disconnect());
  }
});
