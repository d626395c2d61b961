/**
 * `odelab runs cancel` from one process stops a run that another `odelab train` trains: the request goes through
 * the run store, the training CLI stops after the batch (or kills its training process with --now) and exits 130,
 * and the store records the run cancelled. Also what it refuses, and a run whose owner never acts.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { createRun, getRun, markEnded, openStore } from '../../src-main/store';
import { runOdelab, startOdelab } from './odelab-process';
import { tempDir, tinyConfig } from '../train/fixtures';

const dataDir = tempDir();
const folder = tempDir();
const db = join(folder, 'lab.db');
const env = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(folder, 'default.db') };

// Slow batches (20 Euler steps of 150 images: ~1.5-2 s each), ten to an epoch: a cancel that waited for the epoch's
// end, or a --now that let the batch finish, shows in the steps; the request reaches the run within ~1 s (a CLI's
// start, the owner's 0.5 s poll).
const trainFlags = ['--model', 'shapes-odenet', '--dataset', 'shapes', '--shapes-mode', 'compound', '--method', 'euler',
  '--step-size', '0.05', '--batch-size', '150', '--train-size', '1500', '--lr', '0.003', '--epochs', '30'];

const odelab = (...args: string[]) => runOdelab(env, args);
const odelabAsync = (...args: string[]) => startOdelab(env, args);

interface Event {
  event: string;
  runId: number;
  status?: string;
  step?: number;
  /** When this test read it (performance.now()). */
  at: number;
}

/**
 * `odelab train --json` in its own process, every event line kept with when it was read, and its first batch awaited.
 * `notice`: when its stderr said it was asked to stop (the owner acted on the request), and the last step read by then.
 */
async function startTraining(seed: number) {
  const cli = spawn(process.execPath, ['bin/odelab.js', 'train', ...trainFlags, '--seed', String(seed), '--db', db, '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Event[] = [];
  const lastStep = () => events.filter((e) => e.event === 'batch').at(-1)?.step ?? 0;
  let stderr = '';
  let notice: { at: number; step: number } | undefined;
  cli.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!notice && stderr.includes('cancelled from another process')) notice = { at: performance.now(), step: lastStep() };
  });
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
  const firstBatch = new Promise<Event>((resolve) =>
    createInterface({ input: cli.stdout }).on('line', (line) => {
      const e = { ...(JSON.parse(line) as Omit<Event, 'at'>), at: performance.now() };
      events.push(e);
      if (e.event === 'batch') resolve(e);
    }),
  );
  const { runId } = await firstBatch;
  return { runId, events, exited, stderr: () => stderr, notice: () => notice };
}

describe('odelab runs cancel', () => {
  it('stops a run another odelab trains, after its current batch; that CLI exits 130 and the store says cancelled', async () => {
    const training = await startTraining(1);
    const cancel = await odelabAsync('runs', 'cancel', String(training.runId), '--db', db);
    expect(cancel.stderr).toBe('');
    expect(cancel.code).toBe(0);

    expect(await training.exited).toBe(130);
    expect(training.stderr()).toMatch(/cancelled from another process \(odelab runs cancel\); stopping after the current batch/);
    const ended = training.events.at(-1)!;
    expect(ended).toMatchObject({ event: 'ended', status: 'cancelled' });
    expect(cancel.stdout).toBe(`run ${training.runId}: cancelled after 0 epoch(s), step ${ended.step}\n`);
    // After the batch in progress when the owner acted (+1), and one more whose event may not have been read yet
    // then (+2); not at the epoch's end (step 10), nor at once (the batch finished).
    const notice = training.notice()!;
    expect(notice).toBeDefined();
    expect(ended.step).toBeGreaterThanOrEqual(notice.step);
    expect(ended.step).toBeLessThanOrEqual(notice.step + 2);
    const store = openStore(db, { readonly: true });
    expect(getRun(store.db, training.runId)).toMatchObject({ status: 'cancelled', cancelRequested: null, stepsCompleted: ended.step });
    store.close();

    // A run that has ended is reported as it stands (exit 0: it is not running); an id that is none, or not there,
    // is named, and nothing is asked of the others.
    expect(odelab('runs', 'cancel', String(training.runId), '--db', db)).toEqual({ code: 0, stdout: `run ${training.runId}: already cancelled, nothing to cancel\n`, stderr: '' });
    expect(odelab('runs', 'cancel', '0', '--db', db)).toMatchObject({ code: 2, stderr: expect.stringMatching(/run id: expected a positive integer, got '0'/) });
    expect(odelab('runs', 'cancel', String(training.runId), '99', '--db', db)).toMatchObject({ code: 1, stderr: expect.stringMatching(/run 99 does not exist/) });
    expect(odelab('runs', 'cancel', String(training.runId), '--timeout', '0', '--db', db)).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--timeout.*expected a positive number of seconds, got '0'/),
    });
  }, 120_000);

  it('--now --no-wait: asks for the training process to be killed and returns; the run still ends cancelled', async () => {
    const training = await startTraining(2);
    const cancel = await odelabAsync('runs', 'cancel', String(training.runId), '--now', '--no-wait', '--json', '--db', db);
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.stdout)).toEqual({ mode: 'now', requested: [training.runId], alreadyEnded: [] });
    expect(await training.exited).toBe(130);
    expect(training.stderr()).toMatch(/run \d+: cancelled from another process \(odelab runs cancel\); killing its training process/);
    const ended = training.events.at(-1)!;
    expect(ended).toMatchObject({ event: 'ended', status: 'cancelled' });
    // Killed mid-batch: no batch ends after the owner acted, but for one whose event was already on its way then (read
    // within milliseconds). A batch left to finish would end ~0.5-1.5 s later: the kill lands early in one (the
    // request follows a batch by a CLI's start and a poll), and each takes ~1.5-2 s.
    const notice = training.notice()!;
    expect(notice).toBeDefined();
    const later = training.events.filter((e) => e.event === 'batch' && e.at > notice.at);
    expect(later.filter((e) => e.at - notice.at > 200)).toEqual([]);
    expect(ended.step).toBe(notice.step + later.length);
    const store = openStore(db, { readonly: true });
    expect(getRun(store.db, training.runId)).toMatchObject({ status: 'cancelled', cancelRequested: null, stepsCompleted: ended.step });
    store.close();
  }, 120_000);

  it('gives up waiting after --timeout when the owner does not act, saying so (exit 1), and leaves the request', () => {
    // A run owned by this test process, which trains nothing and never polls: alive, but deaf to the request.
    const store = openStore(db);
    const runId = createRun(store.db, { config: tinyConfig() });
    const r = odelab('runs', 'cancel', String(runId), '--timeout', '0.5', '--db', db);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`run\\(s\\) ${runId} still trains after 0.5 s .*: it stops when its current batch or evaluation ends; \`odelab runs cancel ${runId} --now\``));
    expect(getRun(store.db, runId)).toMatchObject({ status: 'queued', cancelRequested: 'after-batch' });
    // --now upgrades the waiting request; nothing downgrades it.
    expect(odelab('runs', 'cancel', String(runId), '--now', '--no-wait', '--db', db).code).toBe(0);
    expect(odelab('runs', 'cancel', String(runId), '--no-wait', '--db', db).code).toBe(0);
    expect(getRun(store.db, runId).cancelRequested).toBe('now');
    // A run whose owner has died is not waited for: it is marked interrupted, as any open of the store would.
    const orphan = createRun(store.db, { config: tinyConfig() }, { pid: 2 ** 22 + 12345, host: hostname() });
    const ended = createRun(store.db, { config: tinyConfig() });
    markEnded(store.db, ended, 'completed');
    const r2 = odelab('runs', 'cancel', String(orphan), String(ended), '--json', '--db', db);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout)).toEqual({
      mode: 'after-batch',
      requested: [],
      alreadyEnded: [
        { id: orphan, status: 'interrupted' },
        { id: ended, status: 'completed' },
      ],
      stopped: [],
      stillRunning: [],
    });
    store.close();
  });
});
