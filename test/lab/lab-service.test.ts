/**
 * LabService with real training processes and a real run store: everything a run reports lands in SQLite, and
 * a run cut off after an epoch resumes in place with exactly the losses of an uninterrupted run.
 */
import type { MethodName } from '../../src-shared/solvers';
import { spawn } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { LabService } from '../../src-main/lab/lab-service';
import { getRun, openStore, processStartToken, requestCancel, type RunStore } from '../../src-main/store';
import type { RunEvent } from '../../src-shared/run-events';
import { tempDir, tinyConfig, tinyShapes } from '../train/fixtures';
import { tempDbPath } from '../store/fixtures';
import { tinyDatasetFiles, writeDataset } from '../data/fixtures';
import { importDataset } from '../../src-main/data';

const dataDir = tempDir();

/** Another process holds the store's write lock (BEGIN IMMEDIATE) for `ms`; resolves once it has let go. */
async function holdWriteLock(path: string, ms: number): Promise<void> {
  const script = `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN IMMEDIATE');
    console.log('locked'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', script, path, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await new Promise((resolve) => child.on('exit', resolve));
}

function batchLosses(store: RunStore, runId: number): number[] {
  return store.db.prepare('SELECT loss FROM batch_metrics WHERE run_id = ? ORDER BY step').pluck().all(runId) as number[];
}

describe('LabService', () => {
  it('records a run: status, every batch and epoch, confusion and misclassified images, step sizes, checkpoints, dataset', async () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const config = tinyConfig({ epochs: 2, model: { name: 'shapes-odenet', solver: { method: 'bosh3', rtol: 1e-2, atol: 1e-2 } } });
    const run = service.startRun(config, { dataDir, tags: ['t'] });
    expect(getRun(store.db, run.runId).status).toBe('queued');
    const events: RunEvent[] = [];
    run.handle.events.on('event', (e: RunEvent) => events.push(e));
    const ended = await run.handle.done;
    expect(ended.status).toBe('completed');

    const stored = getRun(store.db, run.runId);
    expect(stored).toMatchObject({ status: 'completed', epochsCompleted: 2, stepsCompleted: 8, backend: 'wasm', tags: ['t'], batchesPerEpoch: 4 });
    expect(stored.final?.testAccuracy).toBe(events.filter((e) => e.event === 'epoch').at(-1)!.testAccuracy);
    expect(batchLosses(store, run.runId)).toEqual(events.flatMap((e) => (e.event === 'batch' ? [e.loss] : [])));

    const walls = store.db.prepare('SELECT wall_seconds FROM batch_metrics WHERE run_id = ? ORDER BY step').pluck().all(run.runId) as number[];
    expect(walls.every((w, i) => i === 0 || w >= walls[i - 1])).toBe(true);

    // Confusion matrices: rows sum to the test-set class counts; misclassified = off-diagonal total.
    const confusion = store.db.prepare('SELECT * FROM confusion_matrices WHERE run_id = ? ORDER BY epoch').all(run.runId) as {
      matrix_json: string;
      per_class_accuracy_json: string;
      misclassified: Buffer;
    }[];
    expect(confusion).toHaveLength(2);
    const matrix = JSON.parse(confusion[1].matrix_json) as number[][];
    const total = matrix.flat().reduce((a, b) => a + b, 0);
    const correct = matrix.reduce((n, row, i) => n + row[i], 0);
    expect(total).toBe(70);
    const wrong = new Int32Array(confusion[1].misclassified.buffer.slice(confusion[1].misclassified.byteOffset, confusion[1].misclassified.byteOffset + confusion[1].misclassified.byteLength));
    expect(wrong.length).toBe(total - correct);
    expect([...wrong].every((i, k) => i >= 0 && i < 70 && (k === 0 || i > wrong[k - 1]))).toBe(true);
    expect(JSON.parse(confusion[1].per_class_accuracy_json)).toHaveLength(7);

    // Adaptive solver: each batch's accepted step sizes cover the block's interval [0, 1].
    const sizes = store.db.prepare('SELECT sizes FROM step_sizes WHERE run_id = ? ORDER BY step').pluck().all(run.runId) as Buffer[];
    expect(sizes).toHaveLength(8);
    for (const blob of sizes) {
      const h = new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
      expect(h.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }

    // Checkpoints are the engine's bytes, intact.
    const blob = store.db.prepare('SELECT data FROM checkpoints WHERE run_id = ? AND epoch = 2').pluck().get(run.runId) as Buffer;
    expect(decodeCheckpoint(new Uint8Array(blob))).toMatchObject({ epoch: 2, step: 8 });
    expect(stored.checkpoints.map((c) => c.epoch)).toEqual([1, 2]);

    const dataset = store.db.prepare('SELECT name, content_hash, train_count, test_count FROM datasets').get() as Record<string, unknown>;
    expect(dataset).toMatchObject({ train_count: 240, test_count: 70 });
    expect(dataset.content_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(run.writer.storeSeconds).toBeGreaterThan(0);
    store.close();
  });

  it('resumes a run cut off mid-epoch from its last checkpoint, in place, continuing the loss sequence exactly', async () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const config = tinyConfig({ epochs: 3 });

    const reference = service.startRun(config, { dataDir });
    expect((await reference.handle.done).status).toBe('completed');

    const cutDir = join(tempDir(), 'cut');
    const cut = service.startRun(config, { dataDir, outDir: cutDir });
    cut.handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.epoch === 2 && e.batch === 2) cut.handle.cancel();
    });
    expect((await cut.handle.done).status).toBe('cancelled');
    expect(getRun(store.db, cut.runId)).toMatchObject({ status: 'cancelled', epochsCompleted: 1 });
    expect(batchLosses(store, cut.runId).length).toBeGreaterThan(4); // the partial epoch was recorded

    // A stored config this version cannot read fully (a newer lab's setting) is refused before anything changes.
    const stored = store.db.prepare('SELECT config_json FROM runs WHERE id = ?').pluck().get(cut.runId) as string;
    const newer = JSON.parse(stored);
    newer.optimizer.nesterov = true;
    store.db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(JSON.stringify(newer), cut.runId);
    const recorded = batchLosses(store, cut.runId);
    expect(() => service.resumeRun(cut.runId, { dataDir })).toThrow(/run \d+'s stored config has a setting or value this version of the lab cannot read/);
    expect(batchLosses(store, cut.runId)).toEqual(recorded);
    expect(getRun(store.db, cut.runId).status).toBe('cancelled');
    store.db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(stored, cut.runId);
    // So is an --out path that is a file.
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    expect(() => service.resumeRun(cut.runId, { dataDir, outDir: file })).toThrow(/--out .*file: is a file, not a folder/);
    // Or a folder holding another run's files (its log's 'started' line has another config), or a --data-dir that
    // is a file: refused before the run is touched, so its own status and error stay.
    const otherDir = tempDir();
    const otherLog = [{ event: 'started', config: tinyConfig({ epochs: 5 }) }, { event: 'batch', step: 1 }];
    writeFileSync(join(otherDir, 'events.jsonl'), otherLog.map((e) => JSON.stringify(e) + '\n').join(''));
    expect(() => service.resumeRun(cut.runId, { dataDir, outDir: otherDir })).toThrow(/already holds another run/);
    expect(() => service.resumeRun(cut.runId, { dataDir: file })).toThrow(/--data-dir .*file is a file, not a folder/);
    expect(() => service.startRun(config, { dataDir: file })).toThrow(/--data-dir .*file is a file, not a folder/);
    expect(getRun(store.db, cut.runId).status).toBe('cancelled');

    // A new run from its checkpoint that could not start is refused before it is created.
    const runs = () => store.db.prepare('SELECT count(*) FROM runs').pluck().get();
    const before = runs();
    const bytes = store.db.prepare('SELECT data FROM checkpoints WHERE run_id = ? AND epoch = 1').pluck().get(cut.runId) as Uint8Array;
    expect(() => service.startRun(tinyConfig({ epochs: 1 }), { dataDir, resumeFrom: bytes, resumeName: 'epoch 1' })).toThrow(
      /cannot start from epoch 1: it is at epoch 1 and this run has epochs 1, so nothing is left to train/,
    );
    expect(() => service.startRun(tinyConfig({ model: { name: 'mlp' } }), { dataDir, resumeFrom: bytes.subarray(0, 50) })).toThrow(
      /checkpoint is not a valid checkpoint/,
    );
    const otherImages = tinyConfig({ epochs: 3, dataset: { ...tinyShapes, imageSize: 32 } });
    expect(() => service.startRun(otherImages, { dataDir, resumeFrom: bytes })).toThrow(
      /it was trained on shapes \(\w+, 28 px\), this run's dataset is shapes \(\w+, 32 px\)/,
    );
    // So is what the config alone rules out: more training images than the shapes spec makes (240).
    expect(() => service.startRun(tinyConfig({ epochs: 3, trainSize: 241 }), { dataDir, resumeFrom: bytes })).toThrow(
      /trainSize 241 is more than the 240 training images of this shapes dataset/,
    );
    // And for MNIST's whole split, the published copy's 60 000 (what a system copy or a download always is).
    expect(() => service.startRun(tinyConfig({ dataset: { kind: 'mnist' }, trainSize: 60_001 }), { dataDir })).toThrow(
      /trainSize 60001 is more than the 60000 training images of this mnist dataset$/,
    );
    // Or a dataset of the user's own under that name, whose copy is named: it may be why (imported since).
    const ownDataDir = tempDir();
    const own = tempDir();
    await writeDataset(own, tinyDatasetFiles(30, 20));
    await importDataset('mnist', own, { dataDir: ownDataDir, allowCustom: true });
    expect(() => service.startRun(tinyConfig({ dataset: { kind: 'mnist' }, trainSize: 31 }), { dataDir: ownDataDir })).toThrow(
      `trainSize 31 is more than the 30 training images of this mnist dataset (the copy in ${join(ownDataDir, 'mnist')}: a dataset of your own, imported with --force)`,
    );
    expect(runs()).toBe(before);
    // One that fails in its process before its first batch (its data folder cannot be created, under a file)
    // still stands where it started.
    const failedEarly = service.startRun(config, { dataDir: join(file, 'data'), resumeFrom: bytes });
    expect(await failedEarly.handle.done).toMatchObject({ status: 'failed' });
    expect(getRun(store.db, failedEarly.runId)).toMatchObject({ status: 'failed', epochsCompleted: 1, stepsCompleted: 4 });
    // So does one killed before its process could say where it was: its 'ended' says the checkpoint's epoch and step.
    const killedEarly = service.startRun(config, { dataDir, resumeFrom: bytes });
    killedEarly.handle.kill();
    expect(await killedEarly.handle.done).toMatchObject({ status: 'cancelled', epochsCompleted: 1, step: 4 });

    // A run started from that checkpoint and stopped before its own first one resumes from it, not from scratch:
    // epochs 2 and 3 with exactly the reference run's losses.
    const goneDir = join(tempDir(), 'gone');
    const fromFile = service.startRun(config, { dataDir, resumeFrom: bytes, outDir: goneDir });
    fromFile.handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.batch === 2) fromFile.handle.cancel();
    });
    expect((await fromFile.handle.done).status).toBe('cancelled');
    // Its parent is the run that stored those bytes: the oldest, the reference run, which training made the same
    // epoch-1 checkpoint as the cut run (deterministic).
    expect(getRun(store.db, fromFile.runId)).toMatchObject({ status: 'cancelled', epochsCompleted: 1, parentId: reference.runId });
    // Its folder deleted meanwhile: made again, and the user told that it holds this session's files only.
    rmSync(goneDir, { recursive: true });
    const continued = service.resumeRun(fromFile.runId, { dataDir });
    expect(continued.warnings).toEqual([`run ${fromFile.runId}'s folder ${goneDir} is gone; it is made again, holding this session's files only`]);
    expect((await continued.handle.done).status).toBe('completed');
    expect(readdirSync(join(goneDir, 'checkpoints'))).toEqual(['epoch-002.ckpt', 'epoch-003.ckpt']);
    expect(batchLosses(store, fromFile.runId)).toEqual(batchLosses(store, reference.runId).slice(4));

    // Its folder is remembered: the resumed run continues its files there without being told.
    expect(getRun(store.db, cut.runId).outDir).toBe(cutDir);
    // Unless another run has taken it since (its run.json): refused, saying how to keep the files elsewhere.
    const runJson = join(cutDir, 'run.json');
    const mine = readFileSync(runJson, 'utf8');
    expect(JSON.parse(mine)).toMatchObject({ runId: cut.runId, store: store.path });
    expect(JSON.parse(mine)).not.toHaveProperty('pid'); // released when the run ended
    writeFileSync(runJson, JSON.stringify({ ...JSON.parse(mine), runId: 999 }));
    expect(() => service.resumeRun(cut.runId, { dataDir })).toThrow(
      `run ${cut.runId}'s folder ${cutDir}: already holds run 999 of ${store.path} (created ${JSON.parse(mine).createdAt}) (events.jsonl, checkpoints/); ` +
        `to keep this run's files elsewhere: odelab runs resume ${cut.runId} --out <dir>`,
    );
    writeFileSync(runJson, mine);
    const resumed = service.resumeRun(cut.runId, { dataDir });
    expect(resumed.runId).toBe(cut.runId);
    expect((await resumed.handle.done).status).toBe('completed');
    const log = readFileSync(join(cutDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RunEvent);
    expect(log.filter((e) => e.event === 'started')).toHaveLength(2);
    expect(log.at(-1)).toMatchObject({ event: 'ended', status: 'completed', epochsCompleted: 3 });
    expect(readdirSync(join(cutDir, 'checkpoints'))).toEqual(['epoch-001.ckpt', 'epoch-002.ckpt', 'epoch-003.ckpt']);
    expect(getRun(store.db, cut.runId)).toMatchObject({ status: 'completed', epochsCompleted: 3, stepsCompleted: 12, error: null });
    expect(batchLosses(store, cut.runId)).toEqual(batchLosses(store, reference.runId));
    const testLosses = (id: number) => store.db.prepare('SELECT test_loss FROM epoch_metrics WHERE run_id = ? ORDER BY epoch').pluck().all(id);
    expect(testLosses(cut.runId)).toEqual(testLosses(reference.runId));

    expect(() => service.resumeRun(cut.runId, { dataDir })).toThrow(/run \d+ is completed; only interrupted, failed, cancelled runs can be resumed/);
    store.close();
  });

  it('takes over, with --force, a run the store has as running whose process it cannot judge gone (pid alone, as on Windows)', async () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const config = tinyConfig({ epochs: 2 });
    const reference = service.startRun(config, { dataDir });
    expect((await reference.handle.done).status).toBe('completed');
    const cut = service.startRun(config, { dataDir });
    cut.handle.events.on('event', (e: RunEvent) => e.event === 'checkpoint' && e.epoch === 1 && e.batch === undefined && cut.handle.cancel());
    expect((await cut.handle.done).status).toBe('cancelled');
    // As a crash on Windows leaves it: still 'running', its owner a pid some live process has since taken, no start token.
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const owner = { pid: sleeper.pid, host: hostname() };
      store.db.prepare(`UPDATE runs SET status = 'running', owner_pid = ?, owner_host = ?, owner_started = NULL WHERE id = ?`).run(owner.pid, owner.host, cut.runId);
      const reopened = openStore(store.path);
      expect(reopened.interrupted).toEqual([]); // the pid is alive: the store cannot tell
      reopened.close();
      expect(() => service.resumeRun(cut.runId, { dataDir })).toThrow(
        `INVALID_ARGUMENT: run ${cut.runId} is running; only interrupted, failed, cancelled runs can be resumed; if no process trains it any ` +
          `more (the lab tells by process id alone on Windows, where a new process may have taken it, and never judges another machine's ` +
          `process), odelab runs resume ${cut.runId} --force takes it over`,
      );
      // A process provably alive (on this machine, its start time the one recorded) is never taken over.
      store.db.prepare('UPDATE runs SET owner_started = ? WHERE id = ?').run(processStartToken(owner.pid!), cut.runId);
      expect(() => service.resumeRun(cut.runId, { dataDir, force: true })).toThrow(
        `INVALID_ARGUMENT: run ${cut.runId} is being trained by process ${owner.pid}, which is alive (its start time is the one recorded): ` +
          `--force takes over only a run whose process cannot be judged; odelab runs cancel ${cut.runId} stops it`,
      );
      expect(getRun(store.db, cut.runId).status).toBe('running');
      store.db.prepare('UPDATE runs SET owner_started = NULL WHERE id = ?').run(cut.runId);
      const resumed = service.resumeRun(cut.runId, { dataDir, force: true });
      expect(['queued', 'running']).toContain(getRun(store.db, cut.runId).status); // this process's now
      expect((await resumed.handle.done).status).toBe('completed');
      expect(batchLosses(store, cut.runId)).toEqual(batchLosses(store, reference.runId));
      // Nothing to take over in a run that has ended: --force resumes it as a plain resume would, or refuses the same.
      expect(() => service.resumeRun(cut.runId, { dataDir, force: true })).toThrow(/is completed; only interrupted, failed, cancelled runs can be resumed$/);
    } finally {
      sleeper.kill();
      store.close();
    }
  });

  it('stops a run whose records can no longer be written, rather than training on unrecorded', async () => {
    const path = tempDbPath();
    const store = openStore(path);
    const service = new LabService(store);
    const run = service.startRun(tinyConfig({ epochs: 5 }), { dataDir });
    const storeErrors: Error[] = [];
    run.handle.events.on('store-error', (e: Error) => storeErrors.push(e));
    run.handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.step === 1) store.db.close(); // the store is gone (disk unplugged, say)
    });
    const ended = await run.handle.done;
    expect(ended.status).toBe('cancelled');
    // The failure surfaces at the first write after the close (the timed flush, or the epoch's end at step 4);
    // cancel then acts within a batch — far from the 20 steps of the full run.
    expect(ended.step).toBeLessThanOrEqual(6);
    expect(storeErrors[0]?.message).toMatch(/database connection is not open/);
    // What the CLI reports (and exits by) is the end as recorded: failed, for the store's reason, not 'cancelled'.
    expect(await run.ended).toMatchObject({
      status: 'failed',
      step: ended.step,
      error: { code: 'IO_ERROR', message: expect.stringMatching(/^the run store could not be written \(.*database connection is not open.*\); the run was stopped$/) },
    });
    // The run stays 'running' in the file; the next open finds its writer gone only once this process ends, so
    // here we check the row is intact and still ours.
    const reopened = openStore(path);
    expect(getRun(reopened.db, run.runId).status).toBe('running');
    reopened.close();
  });

  it('waits for a store another process keeps locked past the busy timeout, losing no record; gives up after its patience', async () => {
    const path = tempDbPath();
    const store = openStore(path);
    const runs = [
      { patienceMs: undefined, expected: 'completed' },
      { patienceMs: 1000, expected: 'failed' },
    ];
    for (const { patienceMs, expected } of runs) {
      const service = new LabService(store, undefined, { busyPatienceMs: patienceMs });
      const run = service.startRun(tinyConfig({ epochs: 2 }), { dataDir });
      const waits: number[] = [];
      run.handle.events.on('store-busy', (ms: number) => waits.push(ms));
      let holder: Promise<void> | undefined;
      run.handle.events.on('event', (e: RunEvent) => {
        // After the first batch: another process takes the write lock for 7 s (SQLite's busy timeout is 5 s).
        if (e.event === 'batch' && e.step === 1) holder = holdWriteLock(path, 7000);
      });
      const ended = await run.ended;
      await holder;
      expect(ended.status).toBe(expected);
      // Announced once; with a 1 s patience the first 5 s busy timeout is already past it: nothing to wait for.
      expect(waits).toEqual(patienceMs === undefined ? [120_000] : []);
      const stored = getRun(store.db, run.runId);
      if (expected === 'completed') {
        // Everything arrived once the lock was let go: all 8 batches and both epochs.
        expect(stored).toMatchObject({ status: 'completed', epochsCompleted: 2, stepsCompleted: 8 });
        expect(batchLosses(store, run.runId)).toHaveLength(8);
      } else {
        // One wait of 5 s is past a 1 s patience: the run is stopped, and recorded failed once the lock is gone.
        expect(ended.error).toMatchObject({ code: 'IO_ERROR', message: expect.stringMatching(/database is locked.*the run was stopped/) });
        expect(stored).toMatchObject({ status: 'failed', error: { code: 'IO_ERROR' } });
        expect(stored.stepsCompleted).toBeLessThan(8);
      }
    }
    store.close();
  }, 60_000);

  it('stops a run when another process asks through the store: after the batch, now, or before a queued run starts', async () => {
    const path = tempDbPath();
    const store = openStore(path);
    const service = new LabService(store);
    const other = openStore(path); // the process running `odelab runs cancel`
    const first = service.startRun(tinyConfig({ epochs: 5 }), { dataDir });
    const queued = service.startRun(tinyConfig({ epochs: 5, seed: 3 }), { dataDir });
    const requests: string[] = [];
    first.handle.events.on('cancel-requested', (r: string) => requests.push(r));
    let askedAt = 0;
    first.handle.events.on('event', (e: RunEvent) => {
      if (e.event !== 'batch' || askedAt) return;
      // Waiting behind the first run, the second ends as soon as its owner sees the request.
      requestCancel(other.db, queued.runId, 'after-batch');
      requestCancel(other.db, first.runId, 'after-batch');
      askedAt = e.step;
    });
    const [a, b] = await Promise.all([first.handle.done, queued.handle.done]);
    expect(a.status).toBe('cancelled');
    // Polled every 0.5 s; a tiny batch takes ~0.1 s: stopped within a few batches of 4 per epoch, far from 20.
    expect(a.step - askedAt).toBeLessThanOrEqual(8);
    expect(requests).toEqual(['after-batch']);
    expect(b).toMatchObject({ status: 'cancelled', step: 0 });
    expect(queued.handle.process).toBeUndefined();
    for (const id of [first.runId, queued.runId]) expect(getRun(other.db, id)).toMatchObject({ status: 'cancelled', cancelRequested: null });
    expect(requestCancel(other.db, first.runId, 'now')).toEqual({ requested: false, status: 'cancelled' });
    expect(getRun(other.db, first.runId).cancelRequested).toBeNull();
    expect(() => requestCancel(other.db, 999, 'now')).toThrow(/run 999 does not exist/);

    // 'now' kills the training process mid-batch; the run still ends cancelled, where it stood.
    const killed = service.startRun(tinyConfig({ epochs: 5 }), { dataDir });
    killed.handle.events.on('event', (e: RunEvent) => {
      if (e.event === 'batch' && e.step === 1) requestCancel(other.db, killed.runId, 'now');
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => killed.handle.events.once('event', () => killed.handle.process!.once('exit', (_c, signal) => resolve(signal))));
    expect((await killed.handle.done).status).toBe('cancelled');
    expect(await exited).toBe('SIGKILL');
    expect(getRun(other.db, killed.runId)).toMatchObject({ status: 'cancelled', cancelRequested: null, error: null });
    other.close();
    store.close();
  });

  it('warns, without refusing, of more worker threads than the machine has cores', async () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const cores = availableParallelism();
    const many = service.startRun(tinyConfig(), { dataDir, workers: cores + 1 });
    many.handle.kill();
    expect(many.warnings).toEqual([
      `--workers ${cores + 1} is more than this machine's ${cores} cores: each batch waits for shards that share a core, so training is slower than with --workers ${cores}`,
    ]);
    await many.ended;
    const enough = service.startRun(tinyConfig(), { dataDir, workers: cores });
    enough.handle.kill();
    expect(enough.warnings).toEqual([]);
    await enough.ended;
    store.close();
  });

  it('warns, without refusing, of the adjoint of a first-order fixed step (its gradients are O(h) off), and of nothing else', async () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const warningsOf = (method: MethodName, gradient: 'direct' | 'adjoint') => {
      const run = service.startRun(tinyConfig({ model: { name: 'shapes-odenet', solver: { method, stepSize: 0.25, gradient } } }), { dataDir });
      run.handle.kill();
      return { warnings: run.warnings, ended: run.ended };
    };
    const cases = [
      warningsOf('implicit-euler', 'adjoint'),
      warningsOf('euler', 'adjoint'),
      warningsOf('implicit-euler', 'direct'),
      warningsOf('implicit-midpoint', 'adjoint'),
      warningsOf('rk4', 'adjoint'),
    ];
    expect(cases[0].warnings).toEqual([
      '--gradient adjoint with implicit-euler: the adjoint solves backwards in time, which a first-order step does not invert, ' +
        'so its gradients can be far off (on test problems: of the wrong sign, or 10⁶ times too large on stiffer dynamics); --gradient direct is the exact gradient of the solve taken',
    ]);
    expect(cases[1].warnings).toEqual([expect.stringMatching(/^--gradient adjoint with euler: .* \(on test problems: 30% off at step 0\.1\)/)]);
    expect(cases.slice(2).map((c) => c.warnings)).toEqual([[], [], []]);
    await Promise.all(cases.map((c) => c.ended));
    store.close();
  });

  it('refuses before creating a run what the config alone rules out: a backend that is not one, or not installed', () => {
    const store = openStore(tempDbPath());
    const service = new LabService(store);
    const saved = process.env.ODELAB_BACKEND;
    try {
      process.env.ODELAB_BACKEND = 'webgpu';
      expect(() => service.startRun(tinyConfig(), { dataDir })).toThrow(/ODELAB_BACKEND is "webgpu"; expected one of tensorflow, wasm, cpu/);
      delete process.env.ODELAB_BACKEND;
      const tensorflowInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
        try {
          return Boolean(import.meta.resolve(p));
        } catch {
          return false;
        }
      });
      if (!tensorflowInstalled) {
        expect(() => service.startRun(tinyConfig(), { dataDir, backend: 'tensorflow' })).toThrow(
          /backend 'tensorflow' was requested but neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/,
        );
      }
    } finally {
      if (saved === undefined) delete process.env.ODELAB_BACKEND;
      else process.env.ODELAB_BACKEND = saved;
    }
    expect(store.db.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(0);
    store.close();
  });
});
