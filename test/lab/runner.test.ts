/**
 * The runner, with real training processes (forked, tsx): events stream back, cancel stops a run, a killed
 * process is reported as crashed rather than hanging, and runs queue one at a time.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Runner, type RunHandle } from '../../src-main/lab/runner';
import { claimRunFolder, prepareRunFolder, releaseRunFolder } from '../../src-main/lab/run-folder';
import { hostname } from 'node:os';
import type { RunEvent, StartedEvent, TestingProgress } from '../../src-shared/run-events';
import type { CheckpointData } from '../../src-main/lab/protocol';
import { decodeCheckpoint, encodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { tempDir, tinyConfig } from '../train/fixtures';

function collect(handle: RunHandle): RunEvent[] {
  const events: RunEvent[] = [];
  handle.events.on('event', (e: RunEvent) => events.push(e));
  return events;
}

const dataDir = tempDir();

describe('Runner', () => {
  it("tells a run folder it cannot write (log or checkpoint) as a warning and trains on: the store keeps everything", async () => {
    const runner = new Runner();
    const outDir = tempDir();
    // Where the log and the first epoch's checkpoint should go, folders: neither file can be written (as root too).
    mkdirSync(join(outDir, 'events.jsonl'));
    mkdirSync(join(outDir, 'checkpoints', 'epoch-001.ckpt', 'inside'), { recursive: true });
    const handle = runner.enqueue({ config: tinyConfig({ epochs: 2 }), outDir, dataDir });
    const events = collect(handle);
    const problems: string[] = [];
    handle.events.on('folder-error', (p: string) => problems.push(p));
    const ended = await handle.done;
    expect(ended.status).toBe('completed');
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^cannot write ${join(outDir, 'events.jsonl')}: EISDIR.*; its events are no longer logged there$`)),
      expect.stringMatching(new RegExp(`^cannot write ${join(outDir, 'checkpoints', 'epoch-001.ckpt')}: .*; the run store keeps the checkpoint$`)),
    ]);
    // The second epoch's file is written, and each checkpoint event names a file only when it was.
    const paths = events.flatMap((e) => (e.event === 'checkpoint' ? [e.path] : []));
    expect(paths).toEqual([undefined, join(outDir, 'checkpoints', 'epoch-002.ckpt')]);
    expect(readdirSync(join(outDir, 'checkpoints')).sort()).toEqual(['epoch-001.ckpt', 'epoch-002.ckpt']);
  });

  it("survives an error on the training process's channel (a cancel sent as it exits: EPIPE) and lets the exit end the run", async () => {
    const runner = new Runner();
    const handle = runner.enqueue({ config: tinyConfig({ epochs: 1 }), dataDir });
    // Node reports a message that could not be sent as an 'error' event on the child; with no listener, emitting
    // it throws, which in the CLI ends the process. Played here by emitting what Node would.
    handle.events.once('event', () => {
      const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
      expect(() => handle.process!.emit('error', epipe)).not.toThrow();
    });
    expect((await handle.done).status).toBe('completed');
  });

  it('runs a training process to completion, streaming events and logging them', async () => {
    const runner = new Runner();
    const outDir = tempDir();
    const handle = runner.enqueue({ config: tinyConfig({ epochs: 1 }), outDir, dataDir });
    const events = collect(handle);
    // The epoch's test-set evaluation says how far it has got (70 test images, one batch), and is not logged.
    const testing: TestingProgress[] = [];
    handle.events.on('testing', (p: TestingProgress) => testing.push(p));
    const ended = await handle.done;
    expect(ended.status).toBe('completed');
    expect(events.map((e) => e.event)).toEqual(['started', 'batch', 'batch', 'batch', 'batch', 'epoch', 'checkpoint', 'ended']);
    expect(testing).toEqual([
      { epoch: 1, step: 4, done: 0, total: 70 },
      { epoch: 1, step: 4, done: 70, total: 70 },
    ]);
    const logged = readFileSync(join(outDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(logged).toEqual(events);
    const checkpoint = events.find((e) => e.event === 'checkpoint');
    expect(checkpoint && checkpoint.event === 'checkpoint' && checkpoint.path).toContain(join(outDir, 'checkpoints'));
  });

  /** tinyConfig with ~0.5 s batches (20 Euler steps, not 4): an event in flight between the processes is one batch late at most. */
  const slowBatches = (overrides: Parameters<typeof tinyConfig>[0] = {}) =>
    tinyConfig({ model: { name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.05 } }, ...overrides });

  /** The step of the last batch event in `events`. */
  const lastBatchStep = (events: RunEvent[]) => events.filter((e) => e.event === 'batch').at(-1)?.step;

  it('cancels a running run between batches, within a batch or two of asking', async () => {
    const runner = new Runner();
    // One epoch of 4 slow batches (~0.5 s), so stopping at the epoch's end would show as step 4.
    const handle = runner.enqueue({ config: slowBatches({ epochs: 5 }), outDir: tempDir(), dataDir });
    const events = collect(handle);
    let seen: number | undefined; // the last batch this process had heard of when it asked
    handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.step === 1) {
        seen = lastBatchStep(events);
        handle.cancel();
      }
    });
    const ended = await handle.done;
    expect(ended.status).toBe('cancelled');
    // The batch in progress finishes (+1); one more if its event was already on its way when we asked (+2).
    expect(seen).toBe(1);
    expect(ended.step).toBeGreaterThanOrEqual(seen!);
    expect(ended.step).toBeLessThanOrEqual(seen! + 2);
  });

  it('reports a killed training process as failed: CRASHED', async () => {
    const runner = new Runner();
    const handle = runner.enqueue({ config: slowBatches({ epochs: 5 }), outDir: tempDir(), dataDir });
    const events = collect(handle);
    handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.step === 2) handle.process?.kill('SIGKILL');
    });
    const ended = await handle.done;
    expect(ended.status).toBe('failed');
    expect(ended.error?.code).toBe('CRASHED');
    expect(ended.error?.message).toMatch(/killed by SIGKILL/);
    // Where it stood: its last batch heard of, step 2 or a batch whose event was already on its way at the kill.
    expect(ended.step).toBe(lastBatchStep(events.slice(0, -1)));
    expect([2, 3]).toContain(ended.step);
  });

  it('ends a run the user kills (kill(), a second Ctrl-C) cancelled, at the step it reached', async () => {
    const runner = new Runner();
    const handle = runner.enqueue({ config: slowBatches({ epochs: 5 }), dataDir });
    const events = collect(handle);
    handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.step === 2) handle.kill();
    });
    const ended = await handle.done;
    expect(ended).toMatchObject({ status: 'cancelled' });
    expect(events.at(-1)).toBe(ended);
    // As above: the last batch heard of, 2 or one already on its way at the kill (a cancel would finish batch 3,
    // which the process's death by SIGKILL rules out).
    expect(ended.step).toBe(lastBatchStep(events.slice(0, -1)));
    expect([2, 3]).toContain(ended.step);
    expect(ended.error).toBeUndefined();
    expect(handle.process?.signalCode).toBe('SIGKILL');
  });

  it('ends a run cancelled when a Ctrl-C kills its process before it could ignore the signal (its first moments)', async () => {
    // The terminal sends SIGINT to the whole process group: the CLI cancels, and a process still booting dies of it.
    const runner = new Runner();
    const cancelled = runner.enqueue({ config: tinyConfig({ epochs: 5 }), dataDir });
    cancelled.cancel();
    cancelled.process!.kill('SIGINT');
    expect(await cancelled.done).toMatchObject({ status: 'cancelled', step: 0 });
    expect(cancelled.process!.signalCode).toBe('SIGINT');
    // Without a cancel, the same death is a crash: someone else signalled the process alone.
    const killed = runner.enqueue({ config: tinyConfig({ epochs: 5 }), dataDir });
    killed.process!.kill('SIGINT');
    expect(await killed.done).toMatchObject({ status: 'failed', error: { code: 'CRASHED', message: expect.stringMatching(/killed by SIGINT/) } });
  });

  it("ignores terminal signals from its first moment: the training process's entry loads nothing heavy before", () => {
    // ES modules evaluate only once their whole import graph has loaded: an entry importing the engine statically
    // installed its handlers after tfjs had loaded (about 1.5 s here), and a Ctrl-C in that time killed it.
    const entry = readFileSync(join(__dirname, '../../src-main/lab/train-process.ts'), 'utf8');
    const valueImports = (source: string) => [...source.matchAll(/^import (?!type )[^;]*? from '([^']+)'/gm)].map((m) => m[1]);
    expect(valueImports(entry)).toEqual(['./orphan-watchdog', './protocol']);
    for (const light of ['protocol.ts', 'orphan-watchdog.ts']) {
      const source = readFileSync(join(__dirname, '../../src-main/lab', light), 'utf8');
      expect(valueImports(source).filter((m) => !m.startsWith('node:')), light).toEqual([]);
    }
    const ignoring = entry.search(/^for \(const signal of TERMINAL_SIGNALS\) process\.on\(signal, \(\) => \{\}\);$/m);
    expect(ignoring).toBeGreaterThan(0);
    expect(ignoring).toBeLessThan(entry.indexOf("import('./train-session')"));
  });

  it('keeps training through a SIGINT that reaches only its process (a terminal signal is the runner\'s to judge)', async () => {
    const runner = new Runner();
    const handle = runner.enqueue({ config: tinyConfig({ epochs: 5 }), dataDir });
    const steps: number[] = [];
    let signalledAt: number | undefined;
    handle.events.on('event', (e: RunEvent) => {
      if (e.event !== 'batch') return;
      steps.push(e.step);
      if (e.step === 1) {
        signalledAt = e.step;
        handle.process!.kill('SIGINT');
      }
      // Two batches after the signal: it was ignored, not fatal. Now stop the run as the user would.
      if (signalledAt !== undefined && e.step === signalledAt + 2) handle.cancel();
    });
    const ended = await handle.done;
    expect(ended.status).toBe('cancelled');
    expect(steps.slice(0, 3)).toEqual([1, 2, 3]);
    expect(handle.process!.signalCode).toBeNull(); // it ended by itself, after the cancel
    expect(handle.process!.exitCode).toBe(0);
  });

  it("ends a run failed OUT_OF_MEMORY, saying where and what would need less, before a batch's direct gradient fills the wasm heap", async () => {
    // Tolerances of 1e-12 take dopri5 to its 1000 steps, each kept for the backward pass: ~10 GB for 240 images of
    // 2028 floats. The solver stops once its tensors pass 3.25 GiB, short of the 4 GiB ceiling (where tfjs-wasm
    // aborts, or in a worker thread stalls).
    const runner = new Runner();
    const config = tinyConfig({
      model: { name: 'convnode-fashion', solver: { method: 'dopri5', rtol: 1e-12, atol: 1e-12 } },
      batchSize: 240,
      epochs: 1,
    });
    const ended = await runner.enqueue({ config, dataDir }).done;
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY', details: { epoch: 1, batch: 1, method: 'dopri5' } } });
    expect(ended.error?.details?.tensorBytes as number).toBeGreaterThan(3.25 * 2 ** 30);
    expect(ended.error?.message).toMatch(/^dopri5 step \d+ at t=0\.\d+: its tensors hold 3\.\d\d GiB of the wasm backend's 4 GiB heap; the direct gradient keeps every solver step/);
    expect(ended.error?.message).toMatch(/try --gradient adjoint .* or a smaller --batch-size \(240\)$/);
  });


  it('ends a run failed, naming the folder, when its --out folder cannot be created', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a folder');
    const handle = new Runner().enqueue({ config: tinyConfig({ epochs: 1 }), outDir: file, dataDir });
    const seen: RunEvent[] = [];
    handle.events.on('event', (e: RunEvent) => seen.push(e)); // attached after enqueue(), as every caller does
    const ended = await handle.done;
    expect(seen).toEqual([ended]);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'INVALID_ARGUMENT', details: { field: 'outDir' } } });
    expect(ended.error?.message).toContain(`--out ${file}: cannot write the run's files`);
    expect(handle.process).toBeUndefined(); // no training process was started
  });

  it('prepares an --out folder: refuses one holding another trained run, clears the log of an attempt that never trained', () => {
    const config = tinyConfig({ epochs: 2 });
    const line = (e: object) => JSON.stringify(e) + '\n';
    const started = line({ event: 'started', config });
    const folder = (files: Record<string, string>) => {
      const dir = tempDir();
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      return dir;
    };
    // New, empty or absent: created with its checkpoints folder.
    const absent = join(tempDir(), 'new', 'run');
    prepareRunFolder(absent);
    expect(existsSync(join(absent, 'checkpoints'))).toBe(true);
    // A trained run (a batch in its log, or checkpoints): refused to a new run and to another run's resume.
    const trained = folder({ 'events.jsonl': started + line({ event: 'batch', step: 1 }) });
    expect(() => prepareRunFolder(trained)).toThrow(/already holds a run/);
    expect(() => prepareRunFolder(folder({ 'checkpoints/epoch-001.ckpt': 'x' }))).toThrow(/already holds a run/);
    expect(() => prepareRunFolder(folder({ 'checkpoints/resume.ckpt.tmp': 'x' }))).toThrow(/already holds a run/);
    // What Finder or Explorer leave in a folder looked at is no run.
    prepareRunFolder(folder({ 'checkpoints/.DS_Store': 'x', 'checkpoints/desktop.ini': 'x' }));
    const run7 = { runId: 7, createdAt: '2026-11-24T10:00:00.000Z', store: '/lab.db' };
    expect(() => prepareRunFolder(trained, { resuming: { config: tinyConfig({ epochs: 3 }), owner: run7 } })).toThrow(/already holds another run/);
    // Its own run resuming (the config its log starts with): kept, to be appended to.
    prepareRunFolder(trained, { resuming: { config: JSON.parse(JSON.stringify(config)), owner: run7 } });
    expect(readFileSync(join(trained, 'events.jsonl'), 'utf8')).toContain('"batch"');
    // A folder whose run.json names its run: that, not the config, decides — another run of the same config that
    // took the folder since is not this run's, and the refusal names it.
    claimRunFolder(trained, { ...run7, runId: 8 });
    expect(() => prepareRunFolder(trained, { resuming: { config, owner: run7 }, hint: 'use --out' })).toThrow(
      `--out ${trained}: already holds run 8 of /lab.db (created 2026-11-24T10:00:00.000Z) (events.jsonl, checkpoints/); use --out`,
    );
    claimRunFolder(trained, run7);
    prepareRunFolder(trained, { resuming: { config: tinyConfig({ epochs: 3 }), owner: run7 } });
    expect(readFileSync(join(trained, 'events.jsonl'), 'utf8')).toContain('"batch"');
    // A folder a live process is writing a run into is refused to any other run, even before its first batch;
    // released when that run ends, a folder that never trained is free again.
    const live = folder({ 'events.jsonl': started });
    claimRunFolder(live, { ...run7, pid: process.pid, host: hostname() });
    const inUse = `in use: process ${process.pid} is writing run 7 of /lab.db (created 2026-11-24T10:00:00.000Z) into it`;
    expect(() => prepareRunFolder(live)).toThrow(inUse);
    expect(readFileSync(join(live, 'events.jsonl'), 'utf8')).toBe(started);
    // So is claiming it for another run (two processes that both passed the check): refused at the claim too.
    expect(() => claimRunFolder(live, { ...run7, runId: 9, pid: process.pid, host: hostname() })).toThrow(inUse);
    // A claim whose run did not come to be (its transaction failed) is undone: run.json as it was, or none.
    const fresh = folder({});
    const undo = claimRunFolder(fresh, { ...run7, pid: process.pid, host: hostname() });
    expect(existsSync(join(fresh, 'run.json'))).toBe(true);
    undo();
    expect(existsSync(join(fresh, 'run.json'))).toBe(false);
    // A process that has died holds nothing (a pid above any this kernel hands out).
    const dead = folder({ 'events.jsonl': started });
    claimRunFolder(dead, { ...run7, pid: 2 ** 22 + 12345, host: hostname() });
    prepareRunFolder(dead);
    releaseRunFolder(live);
    expect(JSON.parse(readFileSync(join(live, 'run.json'), 'utf8'))).toEqual(run7);
    prepareRunFolder(live);
    expect(existsSync(join(live, 'events.jsonl'))).toBe(false);
    // An attempt that failed before its first batch: its log is cleared for the new run.
    const failed = folder({ 'events.jsonl': started + line({ event: 'ended', status: 'failed' }) });
    prepareRunFolder(failed);
    expect(existsSync(join(failed, 'events.jsonl'))).toBe(false);
  });

  it("passes 'continuing' to the training process: a run that goes on is refused another copy of its dataset, a new one told", async () => {
    const first = new Runner().enqueue({ config: tinyConfig({ epochs: 1 }), dataDir });
    const saved: CheckpointData[] = [];
    first.events.on('checkpoint-data', (c: CheckpointData) => saved.push(c));
    expect((await first.done).status).toBe('completed');
    // As if trained on another copy of the tiny shapes dataset than the one in dataDir.
    const elsewhere = 'f'.repeat(64);
    const resumeFrom = encodeCheckpoint({ ...decodeCheckpoint(saved[0].bytes), datasetHash: elsewhere });
    const runner = new Runner(2);
    const config = tinyConfig({ epochs: 2 });
    const continuing = runner.enqueue({ config, dataDir, resumeFrom, continuing: true, startAt: { epoch: 1, step: 4 } });
    const fresh = runner.enqueue({ config, dataDir, resumeFrom });
    const [continued, started] = [collect(continuing), collect(fresh)];
    const [a, b] = await Promise.all([continuing.done, fresh.done]);
    expect(continued.map((e) => e.event)).toEqual(['ended']);
    expect(a).toMatchObject({ status: 'failed', epochsCompleted: 1, step: 4, error: { code: 'DATASET_CHANGED', details: { trained: elsewhere } } });
    expect(b.status).toBe('completed');
    expect((started[0] as StartedEvent).datasetNote).toMatch(/^the checkpoint this run starts from was trained on a copy of .* with content hash f{12}…/);
  });

  it('queues runs: one at a time by default, a cancelled queued run never starts', async () => {
    const runner = new Runner();
    const order: string[] = [];
    const first = runner.enqueue({ config: tinyConfig({ epochs: 1 }), outDir: tempDir(), dataDir });
    const second = runner.enqueue({ config: tinyConfig({ epochs: 1, seed: 3 }), outDir: tempDir(), dataDir });
    const third = runner.enqueue({ config: tinyConfig({ epochs: 1 }), outDir: tempDir(), dataDir });
    third.cancel();
    first.events.on('event', (e: RunEvent) => order.push(`first:${e.event}`));
    second.events.on('event', (e: RunEvent) => order.push(`second:${e.event}`));
    const [a, b, c] = await Promise.all([first.done, second.done, third.done]);
    expect([a.status, b.status, c.status]).toEqual(['completed', 'completed', 'cancelled']);
    expect(order.indexOf('second:started')).toBeGreaterThan(order.indexOf('first:ended'));
    expect(third.process).toBeUndefined();
  });
});
