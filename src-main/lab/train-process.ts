/**
 * Entry point of a training process: receives one 'start' message, trains (train-session.ts), streams events back
 * and exits. Run by the Runner (child_process.fork here; Electron's utilityProcess later), never imported by the
 * parent.
 *
 * Ctrl-C, a terminal's closing (SIGHUP) or a service manager's SIGTERM reaches the whole process group, this
 * process too. The parent decides what each means (stop after the batch; kill), so they are ignored here rather
 * than die mid-batch as a crash; if the parent dies instead, the orphan watch (mid-batch) or the disconnect below
 * (between batches) stops this process. They are ignored from the first moment: this module imports nothing heavy
 * and loads the session (the engine, tfjs: about a second) only afterwards, so a Ctrl-C in the process's first
 * second is a cancel too, not a death by SIGINT.
 */
import { exitWhenOrphaned } from './orphan-watchdog';
import { TERMINAL_SIGNALS, type ToTrainer } from './protocol';

for (const signal of TERMINAL_SIGNALS) process.on(signal, () => {});
// Mid-batch too, where the disconnect below cannot be heard.
exitWhenOrphaned();

const controller = new AbortController();
const session = import('./train-session');

// The parent is gone (killed, crashed) and this process is between batches: stop instead of training on as an
// orphan, and let the signals ignored above stop this process again (nobody else will decide what they mean).
process.on('disconnect', () => {
  controller.abort();
  for (const signal of TERMINAL_SIGNALS) process.removeAllListeners(signal);
});

process.on('message', (msg: ToTrainer) => {
  if (msg.type === 'cancel') controller.abort();
  else if (msg.type === 'start') {
    void session
      .then(({ runSession }) => runSession(msg, controller.signal))
      .finally(() => process.connected && process.disconnect());
  }
});
