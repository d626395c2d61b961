/**
 * Resume points from the command line, real processes on tiny generated shapes (12 batches of 20 per epoch): a CLI
 * killed with SIGKILL mid-epoch leaves its last periodic resume point (store and --out folder), `runs resume`
 * continues after it with no batch row missing or twice and the losses of a run never stopped; a cancel (SIGINT,
 * as Ctrl-C) saves one before the run ends; a resume point file starts a new run mid-epoch; db check reads them.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { checkCheckpoint } from '../../src-main/engine/train/checkpoint';
import { openDatabase } from '../../src-main/store/database';
import { saveResumePoint } from '../../src-main/store/resume-points';
import { insertRunRow, resumePointBytes } from '../store/fixtures';
import { tempDir, tinyConfig } from '../train/fixtures';
import { runOdelab, startOdelab } from './odelab-process';

const folder = tempDir();
const dataDir = join(folder, 'data');
const db = join(folder, 'lab.db');
const env = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(folder, 'default.db') };
const configFile = join(folder, 'tiny.json');
writeFileSync(configFile, JSON.stringify(tinyConfig({ epochs: 2, batchSize: 20 })));
const train = ['train', '--config', configFile, '--db', db];

const odelab = (...args: string[]) => runOdelab(env, args);
const json = (...args: string[]) => JSON.parse(odelab(...args, '--json').stdout);
type Event = { event: string; runId: number; epoch?: number; batch?: number; step?: number; status?: string; path?: string };
const lines = (stdout: string): Event[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Event);

/** `odelab <args> --json` in its own process; `act` sees each event as it is read and may signal the process. */
async function watched(args: string[], act: (e: Event, signal: (s: NodeJS.Signals) => void) => void) {
  const cli = spawn(process.execPath, ['bin/odelab.js', ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => cli.on('exit', (code, signal) => resolve({ code, signal })));
  const events: Event[] = [];
  for await (const line of createInterface({ input: cli.stdout })) {
    const e = JSON.parse(line) as Event;
    events.push(e);
    act(e, (s) => cli.kill(s));
  }
  return { events, ...(await exited) };
}

/** A run's batch rows as the store keeps them: [step, epoch, batch, loss]. */
function batchRows(runId: number): [number, number, number, number][] {
  const d = openDatabase(db, { readonly: true });
  try {
    return d.prepare('SELECT step, epoch, batch, loss FROM batch_metrics WHERE run_id = ? ORDER BY step').raw().all(runId) as [number, number, number, number][];
  } finally {
    d.close();
  }
}

/** A run's epochs as runs show --json gives them, without what depends on the clock. */
const epochsOf = (runId: number) =>
  json('runs', 'show', String(runId), '--db', db).epochs.map(({ seconds: _s, ...e }: { seconds: number }) => e);

describe('resume points from the command line', () => {
  let straight = 0;

  it('a run never stopped, for reference', () => {
    const r = odelab(...train, '--checkpoint-every', '0', '--json');
    expect(r.code).toBe(0);
    const events = lines(r.stdout);
    straight = events[0].runId;
    // 0: epoch ends only.
    expect(events.filter((e) => e.event === 'checkpoint').map((e) => e.batch)).toEqual([undefined, undefined]);
    expect(batchRows(straight).map((r) => r[0])).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it('killed (SIGKILL) mid-epoch, keeps its last periodic resume point; runs resume continues after it as if never stopped', async () => {
    const out = join(folder, 'killed');
    // A period far shorter than a batch: a resume point after every batch.
    const killed = await watched([...train, '--checkpoint-every', '0.00001', '--out', out], (e, signal) => {
      if (e.event === 'checkpoint' && e.epoch === 1 && e.batch === 5) signal('SIGKILL');
    });
    expect(killed.signal).toBe('SIGKILL');
    const runId = killed.events[0].runId;
    const saved = killed.events.filter((e) => e.event === 'checkpoint');
    expect(saved.map((e) => e.batch)).toEqual([1, 2, 3, 4, 5]);
    expect(saved[4]).toMatchObject({ epoch: 1, batch: 5, step: 5, path: join(out, 'checkpoints', 'resume.ckpt') });

    // The next odelab marks it interrupted; it shows where its resume point stands.
    const shown = json('runs', 'show', String(runId), '--db', db);
    expect(shown).toMatchObject({ status: 'interrupted', epochsCompleted: 0, checkpoints: [], resumePoint: { epoch: 1, batch: 5, step: 5 } });
    expect(odelab('runs', 'show', String(runId), '--db', db).stdout).toMatch(/^resume point: epoch 1, batch 5 of 12 \(step 5, \d+ s into the run, engine start-up included\), saved \S+; runs resume continues from it$/m);
    // Every batch row up to the point was written before it (rows after it may be there too: the process trained on).
    expect(batchRows(runId).slice(0, 5).map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
    const file = join(out, 'checkpoints', 'resume.ckpt');
    expect(checkCheckpoint(readFileSync(file))).toEqual({ version: 3, epoch: 0, step: 5, batch: 5 });

    // The file starts a new run mid-epoch, not in a folder holding another run, nor with another batch order.
    const refused = odelab('train', '--resume', file, '--out', out, '--db', db);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--out .*killed: already holds run/);
    const otherBatches = odelab('train', '--resume', file, '--batch-size', '30', '--db', db);
    expect(otherBatches.code).toBe(2);
    expect(otherBatches.stderr).toMatch(/cannot start from .*resume\.ckpt: it is a resume point inside epoch 1 \(after batch 5\), which stands for the same batches only with its run's batchSize \(20; this run's: 30\)/);
    const fromFile = odelab('train', '--resume', file, '--epochs', '1', '--checkpoint-every', '0', '--db', db, '--json');
    expect(fromFile.code).toBe(0);
    const fileEvents = lines(fromFile.stdout);
    expect(fileEvents[0]).toMatchObject({ event: 'started', startEpoch: 0, startStep: 5, startBatch: 5 });
    expect(fileEvents.filter((e) => e.event === 'batch').map((e) => e.step)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(json('runs', 'show', String(fileEvents[0].runId), '--db', db).parentId).toBe(runId);
    expect(odelab('runs', 'show', String(fileEvents[0].runId), '--db', db).stdout).toMatch(
      /^started from .*resume\.ckpt \(a resume point inside epoch 1, after batch 5, step 5; sha256 [0-9a-f]{16}…; written by run \d+\)$/m,
    );

    const resumed = odelab('runs', 'resume', String(runId), '--db', db, '--checkpoint-every', '0', '--json');
    expect(resumed.code).toBe(0);
    const events = lines(resumed.stdout);
    expect(events[0]).toMatchObject({ event: 'started', startEpoch: 0, startStep: 5, startBatch: 5 });
    expect(events.find((e) => e.event === 'batch')).toMatchObject({ epoch: 1, batch: 6, step: 6 });
    expect(events.at(-1)).toMatchObject({ event: 'ended', status: 'completed', step: 24 });

    // Every step once, and each the loss of the run never stopped; its epochs too (but their seconds).
    const rows = batchRows(runId);
    expect(rows.map((r) => r.slice(0, 3))).toEqual(batchRows(straight).map((r) => r.slice(0, 3)));
    expect(rows.map((r) => r[3])).toEqual(batchRows(straight).map((r) => r[3]));
    expect(epochsOf(runId)).toEqual(epochsOf(straight));
    // Superseded by the epochs' checkpoints: no resume point left, in the store or the folder.
    expect(json('runs', 'show', String(runId), '--db', db).resumePoint).toBeNull();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(out, 'checkpoints', 'epoch-002.ckpt'))).toBe(true);
  });

  it('cancelled (SIGINT, as Ctrl-C), saves a resume point before it ends; resumed, it continues from there', async () => {
    const cancelled = await watched([...train, '--checkpoint-every', '0'], (e, signal) => {
      if (e.event === 'batch' && e.step === 15) signal('SIGINT');
    });
    expect(cancelled.code).toBe(130);
    const runId = cancelled.events[0].runId;
    const [point, ended] = cancelled.events.slice(-2);
    expect(point).toMatchObject({ event: 'checkpoint', epoch: 2 });
    expect(point.batch).toBe(point.step! - 12);
    expect(point.step).toBeGreaterThanOrEqual(15);
    expect(ended).toMatchObject({ event: 'ended', status: 'cancelled', step: point.step });
    expect(json('runs', 'show', String(runId), '--db', db).resumePoint).toMatchObject({ epoch: 2, batch: point.batch, step: point.step });

    const resumed = await startOdelab(env, ['runs', 'resume', String(runId), '--db', db, '--json']);
    expect(resumed.code).toBe(0);
    expect(lines(resumed.stdout).find((e) => e.event === 'batch')).toMatchObject({ step: point.step! + 1 });
    expect(batchRows(runId).map((r) => r[3])).toEqual(batchRows(straight).map((r) => r[3]));
    expect(epochsOf(runId)).toEqual(epochsOf(straight));
  });

  it('db check reads every resume point and names a damaged one', () => {
    const damagedDb = join(folder, 'damaged.db');
    const d = openDatabase(damagedDb);
    const run = insertRunRow(d);
    const bytes = resumePointBytes(2, 3, 7);
    bytes[bytes.length - 100] ^= 0x10;
    saveResumePoint(d, run, { epoch: 2, batch: 3, step: 7, wallSeconds: 1, data: bytes });
    d.close();
    const r = odelab('db', 'check', '--db', damagedDb);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `${damagedDb}: schema 7, 1 run(s), 0 checkpoint(s), 1 resume point(s), 1 problem(s):\n` +
        `  resume point of run ${run} (epoch 2, batch 3): the data is not a valid checkpoint: its content does not match its checksum (damaged)\n`,
    );
  });
});
