/**
 * `odelab runs cancel <ids…>`: stop runs that another process trains (another terminal's `odelab train`, the
 * app). The request goes through the run store, which the run's owner polls (LabService); this command then
 * waits until the runs have stopped, or says why they have not.
 */
import { Command, InvalidArgumentError } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../../src-shared/errors';
import type { RunSummary } from '../../src-shared/run-record';
import { getRun, isLive, recoverInterrupted, requestCancel, type Db } from '../store';
import { EXIT } from './exit-codes';
import { num, runIds } from './option-parsers';
import { dbOption, withStore } from './store-options';
import { jsonOption, printJson } from './json-output';

const POLL_MS = 200;

function seconds(v: string): number {
  const s = num(v);
  if (s <= 0) throw new InvalidArgumentError(`expected a positive number of seconds, got '${v}'`);
  return s;
}

const live = (r: RunSummary) => isLive(r.status);

function outcomeLine(r: RunSummary): string {
  const where = `after ${r.epochsCompleted} epoch(s), step ${r.stepsCompleted}`;
  if (r.status === 'cancelled') return `run ${r.id}: cancelled ${where}`;
  const why = r.error ? `: ${describeError(r.error)}` : '';
  return `run ${r.id}: ${r.status} ${where} before the cancel took effect${why}`;
}

/** Polls until none of the runs is queued or running, or the time is up; returns their summaries. */
async function waitUntilStopped(db: Db, ids: number[], timeoutMs: number): Promise<RunSummary[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // An owner that died meanwhile never acts on the request: its runs become interrupted, as on any open.
    recoverInterrupted(db);
    const runs = ids.map((id) => getRun(db, id));
    if (!runs.some(live) || Date.now() >= deadline) return runs;
    await sleep(POLL_MS);
  }
}

export function cancelCommand(): Command {
  return new Command('cancel')
    .description(
      'stop queued or running runs, whichever process trains them: after the current batch (as Ctrl-C in their terminal), ' +
        'or at once with --now; then wait until they have stopped',
    )
    .argument('<ids...>', 'run ids')
    .option('--now', 'kill the training process rather than let its current batch finish')
    .option('--no-wait', 'ask, and return without waiting for the runs to stop')
    .option('--timeout <seconds>', 'give up waiting after this long (a batch or an evaluation can take minutes)', seconds, 300)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((ids: string[], opts: { now?: boolean; wait: boolean; timeout: number; db?: string; json?: boolean }) => {
      const list = [...new Set(runIds(ids))];
      const mode = opts.now ? 'now' : 'after-batch';
      return withStore(
        opts.db,
        async (store) => {
          // One transaction: an unknown id asks nothing of the others. A run that has stopped already is reported
          // as it stands, so a script racing a run's end still stops the others.
          const asked = store.db.transaction(() => list.map((id) => ({ id, ...requestCancel(store.db, id, mode) }))).immediate();
          const requested = asked.filter((a) => a.requested).map((a) => a.id);
          const ended = asked.filter((a) => !a.requested).map(({ id, status }) => ({ id, status }));
          const endedLines = ended.map((r) => `run ${r.id}: already ${r.status}, nothing to cancel`);
          if (!opts.wait) {
            if (opts.json) printJson({ mode, requested, alreadyEnded: ended });
            else {
              const asking = requested.length ? [`asked run(s) ${requested.join(', ')} to stop ${opts.now ? 'now' : 'after the current batch'}`] : [];
              process.stdout.write([...endedLines, ...asking].join('\n') + '\n');
            }
            return;
          }
          const runs = await waitUntilStopped(store.db, requested, opts.timeout * 1000);
          const running = runs.filter(live);
          if (opts.json) {
            const stopped = runs.filter((r) => !live(r)).map(({ id, status, epochsCompleted, stepsCompleted, error }) => ({ id, status, epochsCompleted, stepsCompleted, error }));
            printJson({ mode, requested, alreadyEnded: ended, stopped, stillRunning: running.map((r) => r.id) });
          } else {
            const lines = [...endedLines, ...runs.filter((r) => !live(r)).map(outcomeLine)];
            if (lines.length) process.stdout.write(lines.join('\n') + '\n');
          }
          if (running.length > 0) {
            const ids = running.map((r) => r.id).join(' ');
            process.stderr.write(
              `run(s) ${ids} still ${running.length > 1 ? 'train' : 'trains'} after ${opts.timeout} s (the process that owns a run looks for requests twice a second): ` +
                (opts.now
                  ? 'the request stays, and that process has not acted on it yet (is it responding?)'
                  : `it stops when its current batch or evaluation ends; \`odelab runs cancel ${ids} --now\` kills its training process`) +
                '\n',
            );
            process.exitCode = EXIT.FAILED;
          }
        },
        { existing: true },
      );
    });
}
