/**
 * The run store through `odelab` as a user meets it: a CLI killed with SIGKILL mid-epoch leaves a consistent
 * database whose run shows as interrupted and resumes to completion; runs list, show, diff, export, import and
 * delete; db check. Every --json output here is one indented JSON document (`json`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src-main/store/database';
import { SCHEMA_VERSION } from '../../src-main/store/migrations';
import { runOdelab, startOdelab } from './odelab-process';
import { tempDir } from '../train/fixtures';

const dataDir = tempDir();
const folder = tempDir();
const db = join(folder, 'lab.db');
const env = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(folder, 'default.db') };

const odelab = (...args: string[]) => runOdelab(env, args);
const odelabAsync = (...args: string[]) => startOdelab(env, args);

/** The command's --json output: one JSON document, indented as every runs/db/eval command prints it. */
const json = (...args: string[]) => {
  const r = odelab(...args, '--json');
  expect(r.stderr).toBe('');
  const value = JSON.parse(r.stdout);
  expect(r.stdout).toBe(JSON.stringify(value, null, 2) + '\n');
  return value;
};

const trainFlags = ['--model', 'shapes-odenet', '--dataset', 'shapes', '--shapes-mode', 'compound', '--method', 'euler',
  '--step-size', '0.25', '--batch-size', '60', '--train-size', '240', '--lr', '0.003'];

describe('odelab runs', () => {
  let runId = 0;

  it('survives SIGKILL of the CLI mid-epoch: consistent database, run interrupted with its completed epoch, resumable', async () => {
    const cli = spawn(process.execPath, ['bin/odelab.js', 'train', ...trainFlags, '--epochs', '3', '--seed', '2', '--db', db, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => cli.on('exit', (_code, signal) => resolve(signal)));
    for await (const line of createInterface({ input: cli.stdout })) {
      const e = JSON.parse(line) as { event: string; epoch?: number; batch?: number; runId: number };
      runId = e.runId;
      if (e.event === 'batch' && e.epoch === 2 && e.batch === 2) {
        cli.kill('SIGKILL');
        break;
      }
    }
    expect(await exited).toBe('SIGKILL');

    expect(json('db', 'check', '--db', db)).toMatchObject({ ok: true, problems: [], runs: 1 });
    const [run] = json('runs', 'list', '--db', db);
    expect(run).toMatchObject({ id: runId, status: 'interrupted', epochsCompleted: 1, error: { code: 'INTERRUPTED' } });
    expect(run.final.epoch).toBe(1);
    expect(json('runs', 'show', String(runId), '--db', db).checkpoints.map((c: { epoch: number }) => c.epoch)).toEqual([1]);

    // Two terminals resume it at the same moment: one trains it, the other is refused, whichever is first.
    const resumeArgs = ['runs', 'resume', String(runId), '--db', db, '--data-dir', dataDir, '--json'];
    const [a, b] = await Promise.all([odelabAsync(...resumeArgs), odelabAsync(...resumeArgs)]);
    const [resumed, refused] = a.code === 0 ? [a, b] : [b, a];
    expect(resumed.code).toBe(0);
    expect(refused).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(new RegExp(`run ${runId} is (queued|running|completed); only interrupted, failed, cancelled runs can be resumed`)),
    });
    const events = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'started', startEpoch: 1, runId });
    expect(events.filter((e) => e.event === 'batch')[0]).toMatchObject({ epoch: 2, batch: 1, step: 5 });
    const done = json('runs', 'show', String(runId), '--db', db);
    expect(done).toMatchObject({ status: 'completed', epochsCompleted: 3, stepsCompleted: 12, error: null });
    expect(done.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2, 3]);
    expect(json('db', 'check', '--db', db).ok).toBe(true);
  });

  // A second run beside the first; each group of commands below is its own test, with its own time limit.
  describe('with a second run', () => {
    let otherId = 0;
    beforeAll(() => {
      const second = odelab('train', ...trainFlags, '--epochs', '1', '--seed', '7', '--method', 'midpoint', '--eval-every', '2', '--study', 'solvers', '--db', db, '--json');
      if (second.code !== 0) throw new Error(`odelab train exited ${second.code}: ${second.stderr}`);
      otherId = JSON.parse(second.stdout.split('\n')[0]).runId as number;
    });

    it('diffs, lists by study and by tag, tags', () => {
      expect(json('runs', 'diff', String(runId), String(otherId), '--db', db)).toEqual([
        { path: 'epochs', values: [3, 1] },
        { path: 'evalEvery', values: [0, 2] },
        { path: 'model.solver.method', values: ['euler', 'midpoint'] },
        { path: 'seed', values: [2, 7] },
      ]);

      expect(json('runs', 'list', '--study', 'solvers', '--db', db).map((r: { id: number }) => r.id)).toEqual([otherId]);
      // Two runs of one model and one name: the solver, training images and seed of train's flags tell them apart.
      const listed = odelab('runs', 'list', '--db', db).stdout.trimEnd().split('\n');
      expect(listed.map((l) => l.replace(/ +/g, ' ').replace(/test \S+ best \S+ \d+ s/, 'test …'))).toEqual([
        `${otherId} completed midpoint h=0.25 n=240 seed 7 ep 1 test … shapes-odenet · midpoint · shapes`,
        `${runId} completed euler h=0.25 n=240 seed 2 ep 3 test … shapes-odenet · euler · shapes`,
      ]);
      expect(json('runs', 'list', '--method', 'euler', '--db', db)).toMatchObject([{ id: runId, stepSize: 0.25, trainSize: 240, gradient: 'direct', seed: 2 }]);
      expect(json('runs', 'tag', String(runId), '--add', 'baseline', 'euler', '--notes', 'the reference', '--db', db)).toEqual({
        id: runId,
        tags: ['baseline', 'euler'],
        notes: 'the reference',
      });
      expect(json('runs', 'tag', String(runId), '--remove', 'euler', '--db', db).tags).toEqual(['baseline']);
      expect(json('runs', 'list', '--tag', 'baseline', '--db', db).map((r: { id: number }) => r.id)).toEqual([runId]);

      // As text too: tag echoes the tags and notes it leaves, and show lists them when set (multi-line notes indented).
      expect(odelab('runs', 'tag', String(runId), '--add', 'reference', '--notes', 'the reference\nsecond line', '--db', db)).toEqual({
        code: 0,
        stdout: `run ${runId}: tags: baseline, reference\nnotes: the reference\n       second line\n`,
        stderr: '',
      });
      const shown = odelab('runs', 'show', String(runId), '--db', db).stdout.split('\n');
      const at = shown.indexOf('tags: baseline, reference');
      expect(at).toBeGreaterThan(0);
      expect(shown.slice(at + 1, at + 3)).toEqual(['notes: the reference', '       second line']);
      // A run with neither shows neither; tag says so with '—'.
      expect(odelab('runs', 'show', String(otherId), '--db', db).stdout).not.toMatch(/^(tags|notes):/m);
      expect(odelab('runs', 'tag', String(otherId), '--db', db).stdout).toBe(`run ${otherId}: tags: —\nnotes: —\n`);
    });

    it('shows the in-epoch evaluations (--eval-every) and exports them as CSV', () => {
      // 4 batches: evaluations after steps 2 (step 4 is the epoch's end, scored by the epoch itself).
      const shown = json('runs', 'show', String(otherId), '--db', db);
      expect(shown.evaluations.map((v: { step: number; epoch: number }) => [v.step, v.epoch])).toEqual([[2, 1]]);
      const csv = odelab('runs', 'export', String(otherId), '--format', 'csv', '--table', 'evaluation', '--db', db).stdout.trim().split('\r\n');
      expect(csv[0]).toBe('run_id,run_name,step,epoch,test_loss,test_accuracy,evaluated,nfe_forward');
      expect(csv.slice(1).map((l) => Number(l.split(',').at(-3)))).toEqual([shown.evaluations[0].testAccuracy]);
    });

    it('gives a metric series, downsampled', () => {
      const [series] = json('runs', 'series', String(runId), '--metric', 'loss', '--axis', 'epoch', '--points', '4', '--db', db);
      expect(series).toMatchObject({ runId, totalPoints: 12 });
      expect(series.points.length).toBeLessThanOrEqual(4);
      expect(series.points[0]).toMatchObject({ step: 1, x: 0.25 }); // 4 batches per epoch
      expect(odelab('runs', 'series', String(runId), '--metric', 'nfe', '--db', db).stderr).toMatch(/metric: expected one of loss, accuracy/);
    });

    it('exports (JSON and CSV), imports into another database where the checkpoint still evaluates, and deletes', () => {
      const file = join(folder, 'export.json');
      expect(odelab('runs', 'export', String(runId), String(otherId), '--checkpoints', '--out', file, '--db', db).code).toBe(0);
      const study = join(folder, 'study.json');
      expect(odelab('runs', 'export', '--study', 'solvers', '--out', study, '--db', db).code).toBe(0);
      expect(json('runs', 'import', study, '--db', join(folder, 'study.db')).studies).toEqual(['solvers']);
      const csv = odelab('runs', 'export', String(runId), '--format', 'csv', '--table', 'epoch', '--db', db);
      expect(csv.stdout.trim().split('\n')).toHaveLength(4); // header + 3 epochs

      // A checkpoint cut short in the file (still JSON and base64) is refused naming the file, run and epoch, and no
      // store is made: it used to be imported, pass db check, and fail only at eval (exit 2, as if a flag were wrong).
      const cutDoc = JSON.parse(readFileSync(file, 'utf8'));
      const cutData = cutDoc.runs[0].checkpoints[0].data as string;
      cutDoc.runs[0].checkpoints[0].data = Buffer.from(cutData, 'base64').subarray(0, 15000).toString('base64');
      const cutFile = join(folder, 'cut.json');
      writeFileSync(cutFile, JSON.stringify(cutDoc));
      const cutDb = join(folder, 'cut.db');
      const refused = odelab('runs', 'import', cutFile, '--db', cutDb);
      expect(refused).toMatchObject({ code: 2, stdout: '' });
      expect(refused.stderr).toMatch(
        new RegExp(
          `^INVALID_ARGUMENT: ${cutFile}: the checkpoint of run ${runId} \\(".*"\\) at epoch 1 is damaged in the export; nothing was imported:\\n` +
            `runs\\.0\\.checkpoints\\.0\\.data: holds 15000 bytes, where its byte count says \\d+ \\(cut short or damaged\\)\\n$`,
        ),
      );
      expect(existsSync(cutDb)).toBe(false);

      const copy = join(folder, 'copy.db');
      const imported = json('runs', 'import', file, '--db', copy);
      expect(Object.keys(imported.runIds)).toEqual([String(runId), String(otherId)]);
      const original = json('runs', 'show', String(runId), '--db', db);
      const restored = json('runs', 'show', String(imported.runIds[runId]), '--db', copy);
      for (const key of ['uid', 'config', 'status', 'epochs', 'final', 'best', 'checkpoints', 'stepsCompleted'] as const) {
        expect(restored[key]).toEqual(original[key]);
      }
      // The imported checkpoint still evaluates (eval --json: its progress on stderr, the result on stdout).
      const scored = odelab('eval', '--run', String(imported.runIds[runId]), '--db', copy, '--data-dir', dataDir, '--json');
      const progress = scored.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { phase: string; done: number; total: number });
      expect(progress.at(-1)).toEqual({ phase: 'score', done: 6000, total: 6000 });
      expect(JSON.parse(scored.stdout).accuracy).toBeCloseTo(original.final.testAccuracy, 10);

      expect(json('runs', 'delete', String(imported.runIds[runId]), '--db', copy)).toEqual({ deleted: [imported.runIds[runId]] });
      expect(json('runs', 'list', '--db', copy).map((r: { id: number }) => r.id)).toEqual([imported.runIds[otherId]]);
      // db check reads every stored checkpoint: one with a flipped byte is named by run and epoch, exit 1.
      const kept = imported.runIds[otherId] as number;
      expect(json('db', 'check', '--db', copy)).toMatchObject({ ok: true, checkpoints: 1, problems: [] });
      const store = openDatabase(copy);
      const blob = store.prepare('SELECT data FROM checkpoints WHERE run_id = ?').pluck().get(kept) as Buffer;
      blob[blob.length - 64] ^= 0xff;
      store.prepare('UPDATE checkpoints SET data = ? WHERE run_id = ?').run(blob, kept);
      store.close();
      const damaged = odelab('db', 'check', '--db', copy);
      expect(damaged).toEqual({
        code: 1,
        stdout:
          `${copy}: schema ${SCHEMA_VERSION}, 1 run(s), 1 checkpoint(s), 0 resume point(s), 1 problem(s):\n` +
          `  checkpoint of run ${kept} at epoch 1: the data is not a valid checkpoint: its content does not match its checksum (damaged)\n`,
        stderr: '',
      });

      const missing = odelab('runs', 'show', '999', '--db', copy);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/NOT_FOUND: run 999 does not exist/);
      expect(odelab('eval', '--run', '999', '--db', copy)).toMatchObject({ code: 1, stderr: 'NOT_FOUND: run 999 does not exist in this database\n' });
      expect(odelab('runs', 'show', 'abc', '--db', copy).code).toBe(2);
    });
  });
});
