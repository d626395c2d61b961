/** The runs table: lifecycle, lists with final/best metrics and filters, and marking orphaned runs interrupted. */
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  claimRun,
  configHash,
  createRun,
  deleteRun,
  getRun,
  listRuns,
  loadCheckpoint,
  markEnded,
  markRunning,
  recoverInterrupted,
  runWithCheckpoint,
  saveCheckpoint,
  setTags,
  addRunsToStudy,
  createStudy,
  processStartToken,
  THIS_PROCESS,
} from '../../src-main/store';
import { RunConfig } from '../../src-shared/run-config';
import { checkpointBytes, expectLabError, freshDb, insertRunRow, sampleConfig } from './fixtures';

const started = { backend: 'wasm', parameterCount: 14762, trainSize: 2700, testSize: 6000, batchesPerEpoch: 23, datasetId: null };

function addEpoch(db: ReturnType<typeof freshDb>, runId: number, epoch: number, testAccuracy: number, testLoss: number): void {
  db.prepare(
    `INSERT INTO epoch_metrics VALUES (?, ?, ?, 0.5, 0.8, ?, ?, 20, 20, 20, 20, 100, 0, 20, 30, ?, 1000, 2000)`,
  ).run(runId, epoch, epoch * 23, testLoss, testAccuracy, epoch * 30);
}

/** A process id that is certainly not running: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
}

describe('runs', () => {
  it('goes queued → running → ended and lists with final and best metrics', () => {
    const db = freshDb();
    const id = createRun(db, { config: sampleConfig(), tags: ['euler'] });
    expect(getRun(db, id)).toMatchObject({ status: 'queued', model: 'shapes-odenet', method: 'euler', dataset: 'shapes', tags: ['euler'] });
    markRunning(db, id, started);
    addEpoch(db, id, 1, 0.7, 0.9);
    addEpoch(db, id, 2, 0.9, 0.4);
    addEpoch(db, id, 3, 0.85, 0.45);
    markEnded(db, id, 'completed');
    const [run] = listRuns(db);
    expect(run).toMatchObject({
      id,
      status: 'completed',
      final: { epoch: 3, testAccuracy: 0.85, testLoss: 0.45 },
      best: { epoch: 2, testAccuracy: 0.9, testLoss: 0.4, testLossEpoch: 2 },
    });
    expect(getRun(db, id)).toMatchObject({ parameterCount: 14762, batchesPerEpoch: 23, backend: 'wasm' });
  });

  it("loads a run's checkpoint (latest, or an epoch's), and names the epochs it has when asked for another", () => {
    const db = freshDb();
    const id = insertRunRow(db);
    expect(() => loadCheckpoint(db, id)).toThrow(/^NOT_FOUND: run \d+ has no checkpoint$/);
    // A run that does not exist is not a run without checkpoints.
    expect(() => loadCheckpoint(db, 999)).toThrow(/^NOT_FOUND: run 999 does not exist in this database$/);
    expect(() => loadCheckpoint(db, 999, 1)).toThrow(/^NOT_FOUND: run 999 does not exist in this database$/);
    for (const epoch of [1, 3]) saveCheckpoint(db, id, { epoch, step: 10 * epoch, data: checkpointBytes(epoch, 10 * epoch) });
    expect(loadCheckpoint(db, id)).toMatchObject({ epoch: 3, step: 30, data: new Uint8Array(checkpointBytes(3, 30)) });
    expect(loadCheckpoint(db, id, 1)).toMatchObject({ epoch: 1, step: 10 });
    expect(() => loadCheckpoint(db, id, 2)).toThrow(/^NOT_FOUND: run \d+ has no checkpoint for epoch 2; it has epochs 1, 3$/);
    // Which run stored given bytes (a checkpoint file's provenance): by content, the oldest run if several.
    const other = insertRunRow(db);
    saveCheckpoint(db, other, { epoch: 1, step: 10, data: new Uint8Array([7, 7]) });
    saveCheckpoint(db, other, { epoch: 2, step: 20, data: checkpointBytes(3, 30) });
    expect(runWithCheckpoint(db, new Uint8Array([7, 7]))).toBe(other);
    expect(runWithCheckpoint(db, checkpointBytes(3, 30))).toBe(id);
    expect(runWithCheckpoint(db, new Uint8Array([7]))).toBeUndefined();
  });

  it('refuses a damaged stored checkpoint as the store failing (STORE_UNREADABLE), naming run, epoch and store', () => {
    const db = freshDb();
    const id = insertRunRow(db);
    const data = checkpointBytes(1, 10);
    data[data.length - 50] ^= 1;
    saveCheckpoint(db, id, { epoch: 1, step: 10, data });
    expectLabError(
      () => loadCheckpoint(db, id),
      'STORE_UNREADABLE',
      new RegExp(
        `^STORE_UNREADABLE: the checkpoint of run ${id} at epoch 1 in ${db.name} is damaged: the data is not a valid checkpoint: its content ` +
          'does not match its checksum \\(damaged\\); odelab db check lists every damaged checkpoint$',
      ),
      { runId: id, epoch: 1 },
    );
  });

  it('filters by status, tag, model and study; newest first; limit', () => {
    const db = freshDb();
    const a = createRun(db, { config: sampleConfig(), tags: ['study-1'] });
    const b = createRun(db, { config: sampleConfig({ model: { name: 'mlp' } }) });
    const c = createRun(db, { config: sampleConfig(), tags: ['study-1', 'best'] });
    markEnded(db, b, 'failed', { code: 'MAX_STEPS', message: 'too many steps', details: { t: 0.5 } });
    expect(listRuns(db).map((r) => r.id)).toEqual([c, b, a]);
    expect(listRuns(db, { tag: 'study-1' }).map((r) => r.id)).toEqual([c, a]);
    expect(listRuns(db, { model: 'mlp' })[0]).toMatchObject({ id: b, error: { code: 'MAX_STEPS', details: { t: 0.5 } } });
    expect(listRuns(db, { status: ['failed'] }).map((r) => r.id)).toEqual([b]);
    expect(listRuns(db, { limit: 1 }).map((r) => r.id)).toEqual([c]);
    // A study's runs, the limit counting them (not the store's newest runs, which may not be in it).
    const study = createStudy(db, { name: 'grid' });
    addRunsToStudy(db, study, [a, b]);
    expect(listRuns(db, { studyId: study }).map((r) => r.id)).toEqual([b, a]);
    expect(listRuns(db, { studyId: study, limit: 1 }).map((r) => r.id)).toEqual([b]);
    expect(listRuns(db, { studyId: study, tag: 'study-1' }).map((r) => r.id)).toEqual([a]);
    expect(() => listRuns(db, { status: ['sleeping' as 'failed'] })).toThrow(/status: expected one of queued, running/);
    setTags(db, a, ['x', 'x', 'y']);
    expect(getRun(db, a).tags).toEqual(['x', 'y']);
  });

  it('hashes configs by content: key order and name do not matter, a setting does', () => {
    const x = sampleConfig({ name: 'one' });
    const reordered = RunConfig.parse({ ...Object.fromEntries(Object.entries(x).reverse()), name: 'two' });
    expect(configHash(reordered)).toBe(configHash(x));
    expect(configHash(sampleConfig({ seed: 1 }))).not.toBe(configHash(x));
  });

  it('reads a config stored before a setting existed with that setting at its default', () => {
    const db = freshDb();
    const today = sampleConfig();
    // As an older lab stored it: no learning-rate schedule (constant then), no weight averaging.
    const { emaDecay: _ema, optimizer, ...rest } = today;
    const { schedule: _schedule, ...olderOptimizer } = optimizer;
    const id = insertRunRow(db);
    db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(JSON.stringify({ ...rest, optimizer: olderOptimizer }), id);
    const read = getRun(db, id);
    expect(read.config.optimizer.schedule).toBe('constant');
    expect(read.config.emaDecay).toBe(0);
    expect(read.config).toEqual(today);
    expect(read.configHash).toBe('test'); // the hash stored with the run
    // A config this lab cannot read keeps what was stored: an unknown value, or a setting it does not know (a
    // newer lab's), which reading it through the schema would silently drop.
    db.prepare("UPDATE runs SET config_json = '{\"model\": {\"name\": \"transformer\"}}' WHERE id = ?").run(id);
    expect(getRun(db, id).config).toEqual({ model: { name: 'transformer' } });
    const newer = { ...today, optimizer: { ...today.optimizer, nesterov: true } };
    db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(JSON.stringify(newer), id);
    expect(getRun(db, id).config).toEqual(newer);
    db.close();
  });

  it('marks runs whose writing process is gone as interrupted, and leaves live ones alone', () => {
    const db = freshDb();
    const orphan = createRun(db, { config: sampleConfig() }, { pid: deadPid(), host: hostname() });
    markRunning(db, orphan, started);
    addEpoch(db, orphan, 1, 0.7, 0.9);
    db.prepare('UPDATE runs SET epochs_completed = 1 WHERE id = ?').run(orphan);
    const live = createRun(db, { config: sampleConfig() }); // this process
    markRunning(db, live, started);
    const queuedOrphan = createRun(db, { config: sampleConfig() }, { pid: deadPid(), host: hostname() });

    expect(recoverInterrupted(db).sort()).toEqual([orphan, queuedOrphan].sort());
    const run = getRun(db, orphan);
    expect(run).toMatchObject({ status: 'interrupted', epochsCompleted: 1, error: { code: 'INTERRUPTED' } });
    expect(run.error?.message).toMatch(/1 epoch\(s\) completed/);
    expect(getRun(db, live).status).toBe('running');
    expect(recoverInterrupted(db)).toEqual([]);
    // A live run can't be deleted from under its writer; an ended one can, with everything it owns.
    expect(() => deleteRun(db, live)).toThrow(/cancel it before deleting it/);
    deleteRun(db, orphan);
    expect(() => getRun(db, orphan)).toThrow(/NOT_FOUND: run \d+ does not exist/);
    expect(db.prepare('SELECT count(*) FROM epoch_metrics WHERE run_id = ?').pluck().get(orphan)).toBe(0);
  });

  it.runIf(process.platform === 'linux')('takes a run whose pid another process has since been given for interrupted', async () => {
    const db = freshDb();
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const live = { pid: sleeper.pid!, host: hostname(), started: processStartToken(sleeper.pid!) };
      const owners = (id: number) => db.prepare('SELECT owner_pid AS pid, owner_host AS host, owner_started AS started FROM runs WHERE id = ?').get(id);
      const own = createRun(db, { config: sampleConfig() }, live);
      expect(owners(own)).toEqual(live);
      const reused = createRun(db, { config: sampleConfig() }, { ...live, started: `${live.started}0` });
      const older = createRun(db, { config: sampleConfig() }, { pid: live.pid, host: live.host }); // written before tokens
      // This process's pid, recorded by an earlier process that had it (a container restarted under the same pid).
      const restarted = createRun(db, { config: sampleConfig() }, { ...THIS_PROCESS, started: `${THIS_PROCESS.started}0` });
      const ours = createRun(db, { config: sampleConfig() });
      expect(owners(ours)).toEqual(THIS_PROCESS);

      expect(recoverInterrupted(db).sort()).toEqual([reused, restarted].sort());
      expect(owners(reused)).toEqual({ pid: null, host: null, started: null });
      expect(getRun(db, reused).error?.message).toContain(`pid ${live.pid}`);
      expect([own, older, ours].map((id) => getRun(db, id).status)).toEqual(['queued', 'queued', 'queued']);
      expect(() => deleteRun(db, own)).toThrow(/cancel it before deleting it/);

      // Resumed by this process: its token goes with its pid; cleared again when the run ends.
      claimRun(db, reused);
      expect(owners(reused)).toEqual(THIS_PROCESS);
      markEnded(db, reused, 'completed');
      expect(owners(reused)).toEqual({ pid: null, host: null, started: null });
      // Once the owner has died, its runs with and without a token are interrupted.
      const exited = new Promise((resolve) => sleeper.once('exit', resolve));
      sleeper.kill('SIGKILL');
      await exited; // reaped: a zombie still answers kill(pid, 0)
      expect(recoverInterrupted(db).sort()).toEqual([own, older].sort());
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});
