/**
 * Ends this training process at once when its parent is gone (killed, crashed). The 'disconnect' handler in
 * train-process.ts runs only between batches: a batch, or a pass over the test set, is synchronous work on the
 * main thread that lasts seconds to minutes, and an orphan trained on for that long, to nobody (the parent keeps
 * the store and the files) — measured: 8 s mid-batch, 17 s mid-test for the shapes implicit-Euler preset, while
 * `runs list` already showed the run interrupted and `runs resume` could start it again beside the orphan.
 *
 * A worker thread watches instead. The parent is gone when this process's parent pid changes (POSIX re-parents an
 * orphan at once) or no longer exists (Windows does not re-parent); then it kills the process, which has nothing
 * left to save.
 */
import { Worker } from 'node:worker_threads';

/** CommonJS: an eval'd worker is not an ES module. */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { parent, pollMs } = workerData;
setInterval(() => {
  let gone = process.ppid !== parent;
  if (!gone) {
    try {
      process.kill(parent, 0);
    } catch (e) {
      gone = e.code === 'ESRCH';
    }
  }
  if (gone) process.kill(process.pid, 'SIGKILL');
}, pollMs);
`;

/** Starts the watch (a thread that does not keep the process alive). */
export function exitWhenOrphaned(pollMs = 250): void {
  new Worker(WATCHDOG, { eval: true, workerData: { parent: process.ppid, pollMs } }).unref();
}
