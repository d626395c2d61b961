/**
 * What tells the runs of a sweep apart, as a user reproducing a solver study meets it: runs list (text, --json,
 * --method), runs series (each run's block labelled, per-epoch metrics asked without --per-epoch), and --out files
 * that are not overwritten without --force (runs export, runs checkpoint: one writer). Real processes on a real
 * store, its runs written by the store's own functions (createRun, markRunning, recordProgress, markEnded) and
 * their epochs as the recorder's rows: no training. Each `odelab` costs 1.5–2 s of startup, so independent
 * commands run side by side.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src-main/store/database';
import { saveCheckpoint } from '../../src-main/store/checkpoints';
import { createRun, markEnded, markRunning, recordProgress } from '../../src-main/store/runs';
import { addToStudy } from '../../src-main/store/studies';
import { PRESETS } from '../../src-shared/presets';
import { RunConfig, type RunConfigInput } from '../../src-shared/run-config';
import { checkpointBytes, resumePointBytes } from '../store/fixtures';
import { saveResumePoint } from '../../src-main/store/resume-points';
import { tempDir } from '../train/fixtures';
import { expectFailure, jsonDocument, startOdelab, type CliResult } from './odelab-process';
import { runConfigFromFlags } from '../../src-main/cli/run-config-from-flags';

const folder = tempDir();
const db = join(folder, 'lab.db');
const env = { ...process.env, ODELAB_DATA_DIR: join(folder, 'data'), ODELAB_DB: db };

const odelab = (...args: string[]) => startOdelab(env, args);
const json = (...args: string[]) => jsonDocument(env, args);

const lines = (r: CliResult) => r.stdout.trimEnd().split('\n');

/**
 * A completed run of the shapes-euler preset (named after it, as train names it, whatever was overridden) with
 * `overrides`, two epochs of test accuracy `acc`, trained on `images` images.
 */
function completedRun(d: Db, overrides: Partial<RunConfigInput>, images: number, acc: [number, number], name?: string): number {
  const config = RunConfig.parse({ ...PRESETS['shapes-euler'].config, ...overrides });
  const id = createRun(d, { config, name });
  markRunning(d, id, { backend: 'cpu', parameterCount: 1000, trainSize: images, testSize: 6000, batchesPerEpoch: 10, datasetId: null });
  const epoch = d.prepare(`INSERT INTO epoch_metrics VALUES (?, ?, ?, 0.5, 0.8, 0.4, ?, 20, 20, 20, 20, 20, 0, 20, 30, ?, 1000, 2000)`);
  epoch.run(id, 1, 10, acc[0], 30);
  epoch.run(id, 2, 20, acc[1], 60);
  recordProgress(d, id, { epochsCompleted: 2, stepsCompleted: 20, wallSeconds: 60 });
  markEnded(d, id, 'completed');
  return id;
}

const solver = (method: string, settings: Record<string, unknown> = {}) => ({ model: { name: 'shapes-odenet' as const, solver: { method, ...settings } } }) as Partial<RunConfigInput>;

/** The solver study: explicit Euler at two step sizes, implicit Euler and Crank–Nicolson on subsets; all named shapes-euler. */
let euler05 = 0;
let euler2 = 0;
let implicit = 0;
let crank = 0;
/** Outside the study: a model without an ODE block, and adaptive solves. */
let mlp = 0;
let paper = 0;
let adaptive = 0;

beforeAll(() => {
  mkdirSync(folder, { recursive: true });
  const d = openDatabase(db);
  euler05 = completedRun(d, solver('euler', { stepSize: 0.05 }), 5400, [0.98, 0.99]);
  euler2 = completedRun(d, solver('euler', { stepSize: 0.2 }), 5400, [0.97, 0.98]);
  implicit = completedRun(d, { ...solver('implicit-euler', { stepSize: 0.05 }), trainSize: 1350 }, 1350, [0.96, 0.97]);
  crank = completedRun(d, { ...solver('crank-nicolson', { stepSize: 0.1 }), trainSize: 500, seed: 3 }, 500, [0.9, 0.91]);
  addToStudy(d, 'sweep', [euler05, euler2, implicit, crank]);
  paper = completedRun(d, { model: { name: 'odenet-paper', solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-4, gradient: 'adjoint' } } }, 5400, [0.95, 0.95], 'paper');
  adaptive = completedRun(d, solver('dopri5'), 5400, [0.94, 0.94], 'adaptive'); // the catalogue's tolerances
  // Newest: --method dopri5 --limit 1 must not count it (it stores the schema's default method, dopri5).
  mlp = completedRun(d, { model: { name: 'mlp' } }, 5400, [0.5, 0.5], 'mlp baseline');
  saveCheckpoint(d, euler05, { epoch: 2, step: 20, data: checkpointBytes(2, 20) });
  d.close();
});

describe('odelab runs list: what tells runs apart', () => {
  it('shows each run’s solver and, when one trains on a subset, its training images; the model only when several are listed', async () => {
    const [study, all, shown] = await Promise.all([odelab('runs', 'list', '--study', 'sweep'), odelab('runs', 'list'), odelab('runs', 'show', String(implicit))]);
    // The same preset name on every row; the solver and training images set them apart, in aligned columns.
    expect(lines(study)).toEqual([
      `${crank} completed crank-nicolson h=0.1  n=500  seed 3 ep 2 test 91.00% best 91.00% 60 s shapes-euler`,
      `${implicit} completed implicit-euler h=0.05 n=1350 seed 0 ep 2 test 97.00% best 97.00% 60 s shapes-euler`,
      `${euler2} completed euler h=0.2           n=5400 seed 0 ep 2 test 98.00% best 98.00% 60 s shapes-euler`,
      `${euler05} completed euler h=0.05          n=5400 seed 0 ep 2 test 99.00% best 99.00% 60 s shapes-euler`,
    ]);
    expect(study.stderr).toBe('');
    // Of several models: a model column; '—' for the one without an ODE block; tolerances, adjoint.
    const rows = new Map(lines(all).map((l) => [Number(l.split(' ')[0]), l]));
    expect(rows.size).toBe(7);
    expect(rows.get(mlp)).toMatch(new RegExp(`^${mlp} completed mlp +— +n=5400 seed 0 ep 2 test 50.00% best 50.00% 60 s mlp baseline$`));
    expect(rows.get(paper)).toMatch(new RegExp(`^${paper} completed odenet-paper +dopri5 rtol=1e-3 atol=1e-4 adjoint n=5400 seed 0 ep 2 .* paper$`));
    expect(rows.get(adaptive)).toMatch(new RegExp(`^${adaptive} completed shapes-odenet +dopri5 tol=1e-3 +n=5400 .* adaptive$`));
    expect(rows.get(crank)).toMatch(new RegExp(`^${crank} completed shapes-odenet +crank-nicolson h=0.1 +n=500 +seed 3 ep 2 test 91.00% best 91.00% +60 s shapes-euler$`));
    // Columns line up: every row's training images, seed and epochs start where the others' do.
    for (const cell of [' n=', ' seed ', ' ep ', ' test ']) expect(new Set([...rows.values()].map((l) => l.indexOf(cell))).size).toBe(1);
    // runs show's first line is the run's listing line, with its model.
    expect(lines(shown)[0]).toBe(`${implicit} completed shapes-odenet implicit-euler h=0.05 n=1350 ep 2 test 97.00% best 97.00% 60 s shapes-euler`);
  });

  it('--json carries what a script groups runs by, beside the fields it had', async () => {
    const runs = (await json('runs', 'list')) as Record<string, unknown>[];
    const byId = new Map(runs.map((r) => [r.id, r]));
    expect(byId.get(euler05)).toMatchObject({
      name: 'shapes-euler',
      status: 'completed',
      model: 'shapes-odenet',
      dataset: 'shapes',
      method: 'euler',
      seed: 0,
      epochsCompleted: 2,
      final: { epoch: 2, testAccuracy: 0.99 },
      best: { epoch: 2, testAccuracy: 0.99 },
      tags: [],
      stepSize: 0.05,
      rtol: null,
      atol: null,
      gradient: 'direct',
      trainSize: 5400,
      testSize: null,
      solverSummary: 'euler h=0.05',
    });
    expect(byId.get(crank)).toMatchObject({ method: 'crank-nicolson', stepSize: 0.1, trainSize: 500, seed: 3, solverSummary: 'crank-nicolson h=0.1' });
    expect(byId.get(paper)).toMatchObject({ method: 'dopri5', stepSize: null, rtol: 1e-3, atol: 1e-4, gradient: 'adjoint', solverSummary: 'dopri5 rtol=1e-3 atol=1e-4 adjoint' });
    expect(byId.get(adaptive)).toMatchObject({ stepSize: null, rtol: 1e-3, atol: 1e-3, gradient: 'direct' });
    // The mlp's stored method (the schema's default) is kept as it was; it has no solver settings.
    expect(byId.get(mlp)).toMatchObject({ method: null, stepSize: null, rtol: null, atol: null, gradient: null, trainSize: 5400, solverSummary: '—' });
    // studies show --json lists a study's runs as runs list --json does.
    expect((await json('studies', 'show', 'sweep')).runs).toEqual(await json('runs', 'list', '--study', 'sweep'));
  });

  it('--method filters by the solver of the ODE block (not the method an mlp stores), before --limit; an unknown one is refused', async () => {
    const [euler, dopri5, newest, unknown] = await Promise.all([
      json('runs', 'list', '--method', 'euler'),
      json('runs', 'list', '--method', 'dopri5'),
      json('runs', 'list', '--method', 'dopri5', '--limit', '1'),
      odelab('runs', 'list', '--method', 'rk45'),
    ]);
    const ids = (runs: { id: number }[]) => runs.map((r) => r.id);
    expect(ids(euler)).toEqual([euler2, euler05]);
    expect(ids(dopri5)).toEqual([adaptive, paper]);
    expect(ids(newest)).toEqual([adaptive]);
    expectFailure(unknown, 2, /option '--method <name>' argument 'rk45' is invalid\. Allowed choices are euler, midpoint, heun, rk4, bosh3, dopri5, tsit5, implicit-euler, crank-nicolson, implicit-midpoint/);
  });
});

describe("odelab runs list: the paper's baselines, by what they do", () => {
  it('names and lists mlp, resnet and rknet by their depth, not a solver they ignore; --method rk4 finds rknet', async () => {
    const store = join(tempDir(), 'baselines.db');
    const d = openDatabase(store);
    const mnist = (config: RunConfig) => ({ ...config, name: undefined }) as Partial<RunConfigInput>;
    // As train records them now (runConfigFromFlags), and an rknet run stored before: the schema's dopri5, ignored.
    const mlp = completedRun(d, mnist(runConfigFromFlags({ preset: 'mnist-odenet', model: 'mlp' })), 60000, [0.97, 0.98]);
    const resnet = completedRun(d, mnist(RunConfig.parse({ model: { name: 'resnet', blocks: 3 }, dataset: { kind: 'mnist' } })), 60000, [0.98, 0.99]);
    const rknetBefore = completedRun(d, mnist(RunConfig.parse({ model: { name: 'rknet', blocks: 4 }, dataset: { kind: 'mnist' } })), 60000, [0.98, 0.99]);
    const rknet = completedRun(d, mnist(runConfigFromFlags({ model: 'rknet', dataset: 'mnist' })), 60000, [0.98, 0.99]);
    const odenetRk4 = completedRun(d, mnist(runConfigFromFlags({ model: 'odenet-paper', dataset: 'mnist', method: 'rk4' })), 60000, [0.98, 0.99]);
    d.close();
    const [listed, asJson, rk4, dopri5] = await Promise.all([
      odelab('runs', 'list', '--db', store),
      json('runs', 'list', '--db', store),
      json('runs', 'list', '--db', store, '--method', 'rk4'),
      odelab('runs', 'list', '--db', store, '--method', 'dopri5'),
    ]);
    // The name (runName) and the solver column say the same: `mlp · mnist`, `resnet · 3 blocks · mnist`, `rknet · rk4×6 · mnist`.
    expect(lines(listed)).toEqual([
      `${odenetRk4} completed odenet-paper rk4 h=0.1 ep 2 test 99.00% best 99.00% 60 s odenet-paper · rk4 · mnist`,
      `${rknet} completed rknet        rk4×6     ep 2 test 99.00% best 99.00% 60 s rknet · rk4×6 · mnist`,
      `${rknetBefore} completed rknet        rk4×4     ep 2 test 99.00% best 99.00% 60 s rknet · rk4×4 · mnist`,
      `${resnet} completed resnet       3 blocks  ep 2 test 99.00% best 99.00% 60 s resnet · 3 blocks · mnist`,
      `${mlp} completed mlp          —         ep 2 test 98.00% best 98.00% 60 s mlp · mnist`,
    ]);
    const byId = new Map((asJson as Record<string, unknown>[]).map((r) => [r.id, r]));
    expect(byId.get(rknet)).toMatchObject({ method: 'rk4', stepSize: 1 / 6, rtol: null, atol: null, gradient: 'direct', blocks: 6, solverSummary: 'rk4×6' });
    expect(byId.get(rknetBefore)).toMatchObject({ method: 'rk4', stepSize: 0.25, gradient: 'direct', blocks: 4, solverSummary: 'rk4×4' });
    expect(byId.get(resnet)).toMatchObject({ method: null, stepSize: null, gradient: null, blocks: 3, solverSummary: '3 blocks' });
    expect(byId.get(mlp)).toMatchObject({ method: null, stepSize: null, gradient: null, blocks: null, solverSummary: '—' });
    expect(byId.get(odenetRk4)).toMatchObject({ method: 'rk4', stepSize: 0.1, blocks: null, solverSummary: 'rk4 h=0.1' });
    // rk4: the ODE-Net's and both rknet runs (the one stored with an ignored dopri5 too); dopri5: none of the baselines.
    expect((rk4 as { id: number }[]).map((r) => r.id)).toEqual([odenetRk4, rknet, rknetBefore]);
    expect(dopri5.stdout).toBe('no runs\n');
  });
});

describe('odelab runs series: labelled', () => {
  it('labels each run’s block with its id, name and solver; per epoch, x is the epoch unless --axis says otherwise', async () => {
    const [perEpoch, bySteps, asJson] = await Promise.all([
      odelab('runs', 'series', String(euler05), String(crank), '--metric', 'testAccuracy', '--per-epoch'),
      odelab('runs', 'series', String(euler05), '--metric', 'testAccuracy', '--per-epoch', '--axis', 'step'),
      json('runs', 'series', String(euler05), String(crank), '--metric', 'testAccuracy', '--per-epoch'),
    ]);
    expect(perEpoch).toEqual({
      code: 0,
      stdout:
        `run ${euler05} shapes-euler (euler h=0.05): testAccuracy per epoch, 2 of 2 points\n  epoch\ttestAccuracy\n  1\t0.98\n  2\t0.99\n` +
        `run ${crank} shapes-euler (crank-nicolson h=0.1, n=500): testAccuracy per epoch, 2 of 2 points\n  epoch\ttestAccuracy\n  1\t0.9\n  2\t0.91\n`,
      stderr: '',
    });
    expect(lines(bySteps).slice(1)).toEqual(['  step\ttestAccuracy', '  10\t0.98', '  20\t0.99']);
    expect(asJson.map((s: Record<string, unknown>) => [s.runId, s.name, s.solverSummary, s.trainSize, s.totalPoints])).toEqual([
      [euler05, 'shapes-euler', 'euler h=0.05', 5400, 2],
      [crank, 'shapes-euler', 'crank-nicolson h=0.1', 500, 2],
    ]);
    expect(asJson[0].points).toEqual([
      { step: 10, x: 1, y: 0.98 },
      { step: 20, x: 2, y: 0.99 },
    ]);
  });

  it('prints values as float32 reads them (0.3, not 0.30000001192092896); --json and CSV keep the stored doubles', async () => {
    const store = join(tempDir(), 'float32.db');
    const d = openDatabase(store);
    const stored = [Math.fround(0.3), 589 / 600];
    const id = completedRun(d, solver('euler', { stepSize: 0.05 }), 5400, [stored[0], stored[1]]);
    d.close();
    const args = ['runs', 'series', String(id), '--metric', 'testAccuracy', '--per-epoch', '--db', store];
    const [text, asJson, csv] = await Promise.all([odelab(...args), json(...args), odelab('runs', 'export', String(id), '--format', 'csv', '--db', store)]);
    expect(lines(text).slice(1)).toEqual(['  epoch\ttestAccuracy', '  1\t0.3', '  2\t0.9816667']);
    expect(asJson[0].points.map((p: { y: number }) => p.y)).toEqual(stored);
    expect(csv.stdout).toContain(`,${stored[0]},`);
    expect(String(stored[0])).toBe('0.30000001192092896');
  });

  it('a per-epoch metric without --per-epoch (or a per-batch one with it) says which flag it needs', async () => {
    const [testAccuracy, nfeForward] = await Promise.all([
      odelab('runs', 'series', String(euler05), '--metric', 'testAccuracy'),
      odelab('runs', 'series', String(euler05), '--metric', 'nfeForward', '--per-epoch'),
    ]);
    expectFailure(testAccuracy, 2, /^INVALID_ARGUMENT: metric: testAccuracy is a per-epoch metric: add --per-epoch \(per-epoch metrics: loss, accuracy, testLoss, testAccuracy, .*; per batch: loss, accuracy, nfeForward, nfeBackward, seconds\)\n$/);
    expectFailure(nfeForward, 2, /^INVALID_ARGUMENT: metric: nfeForward is a per-batch metric: drop --per-epoch \(per-batch metrics: .*; per epoch: .*nfeForwardMean, nfeForwardMax/);
  });
});

describe('odelab runs list: a seed sweep', () => {
  it('shows each run’s seed once the runs listed have more than one, within 100 columns; --json carries it', async () => {
    const store = join(tempDir(), 'seeds.db');
    const d = openDatabase(store);
    // What train --sweep seed=0,1,2 records: the same config and name but for the seed.
    const seeds = [0, 1, 12].map((seed) => completedRun(d, { ...solver('euler', { stepSize: 0.05 }), seed }, 5400, [0.9, 0.9 + seed / 1000], 'shapes-euler seed sweep'));
    d.close();
    const [listed, one, asJson] = await Promise.all([
      odelab('runs', 'list', '--db', store),
      odelab('runs', 'list', '--db', store, '--limit', '1'),
      json('runs', 'list', '--db', store),
    ]);
    expect(lines(listed)).toEqual([
      `${seeds[2]} completed euler h=0.05 seed 12 ep 2 test 91.20% best 91.20% 60 s shapes-euler seed sweep`,
      `${seeds[1]} completed euler h=0.05 seed 1  ep 2 test 90.10% best 90.10% 60 s shapes-euler seed sweep`,
      `${seeds[0]} completed euler h=0.05 seed 0  ep 2 test 90.00% best 90.00% 60 s shapes-euler seed sweep`,
    ]);
    expect(Math.max(...lines(listed).map((l) => l.length))).toBeLessThanOrEqual(100);
    // One seed among the runs listed tells nothing apart: no column.
    expect(lines(one)).toEqual([`${seeds[2]} completed euler h=0.05 ep 2 test 91.20% best 91.20% 60 s shapes-euler seed sweep`]);
    expect((asJson as { id: number; seed: number }[]).map((r) => [r.id, r.seed])).toEqual([
      [seeds[2], 12],
      [seeds[1], 1],
      [seeds[0], 0],
    ]);
  });
});

describe('odelab runs list: runs holding a resume point', () => {
  it("counts a resume point's batches beside the epochs completed; --json says where it stands", async () => {
    const store = join(tempDir(), 'points.db');
    const d = openDatabase(store);
    const done = completedRun(d, solver('euler', { stepSize: 0.05 }), 5400, [0.9, 0.95]);
    // Cancelled after 5 batches of its third epoch, saved as a resume point.
    const cut = completedRun(d, solver('euler', { stepSize: 0.05 }), 5400, [0.9, 0.95]);
    d.prepare(`UPDATE runs SET status = 'cancelled' WHERE id = ?`).run(cut);
    saveResumePoint(d, cut, { epoch: 3, batch: 5, step: 25, wallSeconds: 70, data: resumePointBytes(3, 5, 25) });
    d.close();
    const [listed, asJson] = await Promise.all([odelab('runs', 'list', '--db', store), json('runs', 'list', '--db', store)]);
    expect(lines(listed)).toEqual([
      `${cut} cancelled euler h=0.05 ep 2 +5 batches test 95.00% best 95.00% 60 s shapes-euler`,
      `${done} completed euler h=0.05 ep 2            test 95.00% best 95.00% 60 s shapes-euler`,
    ]);
    expect((asJson as { id: number; resumePoint: unknown }[]).map((r) => [r.id, r.resumePoint])).toEqual([
      [cut, { epoch: 3, batch: 5, step: 25 }],
      [done, null],
    ]);
  });
});

describe('odelab runs list: runs scored on a test subset (--test-size)', () => {
  it('says which test images each accuracy is over, once a listed run scored a subset', async () => {
    const store = join(tempDir(), 'subset.db');
    const d = openDatabase(store);
    const whole = completedRun(d, solver('euler', { stepSize: 0.05 }), 5400, [0.98, 0.99]);
    const subset = completedRun(d, { ...solver('euler', { stepSize: 0.05 }), testSize: 600 }, 5400, [0.97, 0.975]);
    d.close();
    const listed = await odelab('runs', 'list', '--db', store);
    expect(lines(listed)).toEqual([
      `${subset} completed euler h=0.05 ep 2 test n=600 test 97.50% best 97.50% 60 s shapes-euler`,
      `${whole} completed euler h=0.05 ep 2 all test   test 99.00% best 99.00% 60 s shapes-euler`,
    ]);
    const runs = (await json('runs', 'list', '--db', store)) as { id: number; testSize: number | null }[];
    expect(runs.map((r) => [r.id, r.testSize])).toEqual([
      [subset, 600],
      [whole, null],
    ]);
  });
});

describe('--out files are not overwritten without --force (runs export, runs checkpoint)', () => {
  it('refuses an existing file, leaving it as it was; --force replaces it whole; no temporary file is left', async () => {
    const out = join(folder, 'out');
    mkdirSync(out);
    const keep = join(out, 'keep.csv');
    const kept = Array.from({ length: 17 }, (_, i) => `line ${i}`).join('\n') + '\n';
    writeFileSync(keep, kept);
    const ckpt = join(out, 'run.ckpt');
    writeFileSync(ckpt, 'not a checkpoint');
    const [refused, stdout, noOut, aFolder, checkpointRefused] = await Promise.all([
      odelab('runs', 'export', String(euler05), '--format', 'csv', '--out', keep),
      odelab('runs', 'export', String(euler05), '--format', 'csv'),
      odelab('runs', 'export', String(euler05), '--force'),
      odelab('runs', 'export', String(euler05), '--out', out),
      odelab('runs', 'checkpoint', String(euler05), '--out', ckpt),
    ]);
    expectFailure(refused, 2, new RegExp(`^INVALID_ARGUMENT: --out: cannot write ${keep}: it exists \\(--force replaces it\\)\\n$`));
    expectFailure(checkpointRefused, 2, new RegExp(`^INVALID_ARGUMENT: --out: cannot write ${ckpt}: it exists \\(--force replaces it\\)\\n$`));
    expect(readFileSync(keep, 'utf8')).toBe(kept);
    expect(readFileSync(ckpt, 'utf8')).toBe('not a checkpoint');
    expectFailure(noOut, 2, /^INVALID_ARGUMENT: --force replaces the --out file; without --out the export goes to stdout\n$/);
    expectFailure(aFolder, 2, new RegExp(`^INVALID_ARGUMENT: --out: cannot write ${out}: it is a folder; give a file name\\n$`));

    const [replaced, checkpointReplaced, fresh] = await Promise.all([
      odelab('runs', 'export', String(euler05), '--format', 'csv', '--out', keep, '--force'),
      odelab('runs', 'checkpoint', String(euler05), '--out', ckpt, '--force'),
      odelab('runs', 'export', String(euler05), '--out', join(out, 'new.json')),
    ]);
    expect(replaced).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(keep, 'utf8')).toBe(stdout.stdout);
    expect(stdout.stdout.trim().split('\n')).toHaveLength(3); // header + 2 epochs
    expect(checkpointReplaced.code).toBe(0);
    expect(readFileSync(ckpt)).toEqual(checkpointBytes(2, 20));
    expect(fresh.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'new.json'), 'utf8')).runs.map((r: { id: number }) => r.id)).toEqual([euler05]);
    expect(readdirSync(out).sort()).toEqual(['keep.csv', 'new.json', 'run.ckpt']);

    // --force through a symbolic link writes the file it names, as a plain write would, and keeps the link; a
    // dangling one is refused (no file to write through it).
    const target = join(out, 'target.csv');
    writeFileSync(target, 'old\n');
    const viaLink = join(out, 'link.csv');
    symlinkSync(target, viaLink);
    const dangling = join(out, 'dangling.csv');
    symlinkSync(join(out, 'nowhere.csv'), dangling);
    const [throughLink, throughDangling] = await Promise.all([
      odelab('runs', 'export', String(euler05), '--format', 'csv', '--out', viaLink, '--force'),
      odelab('runs', 'export', String(euler05), '--format', 'csv', '--out', dangling, '--force'),
    ]);
    expect(throughLink.code).toBe(0);
    expect(lstatSync(viaLink).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(stdout.stdout);
    expectFailure(throughDangling, 2, new RegExp(`^INVALID_ARGUMENT: --out: cannot write ${dangling}: `));
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
  });

  it('--force keeps the replaced file’s permissions (and, as root, its owner); a new file gets the default mode', async () => {
    const out = join(tempDir(), 'modes');
    mkdirSync(out, { recursive: true });
    const mode = (file: string) => statSync(file).mode & 0o7777;
    const [privateCsv, sharedCkpt, owned] = ['private.csv', 'shared.ckpt', 'owned.csv'].map((f) => join(out, f));
    for (const f of [privateCsv, sharedCkpt, owned]) writeFileSync(f, 'old\n');
    chmodSync(privateCsv, 0o600);
    chmodSync(sharedCkpt, 0o664);
    chmodSync(owned, 0o640);
    const root = process.getuid?.() === 0;
    if (root) chownSync(owned, 4321, 4322);
    const [csvReplaced, ckptReplaced, ownedReplaced, forcedNew, plainNew] = await Promise.all([
      odelab('runs', 'export', String(euler05), '--format', 'csv', '--out', privateCsv, '--force'),
      odelab('runs', 'checkpoint', String(euler05), '--out', sharedCkpt, '--force'),
      odelab('runs', 'export', String(euler05), '--out', owned, '--force'),
      odelab('runs', 'export', String(euler05), '--out', join(out, 'forced-new.json'), '--force'),
      odelab('runs', 'export', String(euler05), '--out', join(out, 'new.json')),
    ]);
    for (const r of [csvReplaced, ckptReplaced, ownedReplaced, forcedNew, plainNew]) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(privateCsv, 'utf8')).toMatch(/^run_id,/);
    expect(readFileSync(sharedCkpt)).toEqual(checkpointBytes(2, 20));
    expect([mode(privateCsv), mode(sharedCkpt), mode(owned)]).toEqual([0o600, 0o664, 0o640]);
    if (root) expect(statSync(owned)).toMatchObject({ uid: 4321, gid: 4322 });
    // The child's umask is this process's.
    const umask = process.umask();
    expect([mode(join(out, 'forced-new.json')), mode(join(out, 'new.json'))]).toEqual([0o666 & ~umask, 0o666 & ~umask]);
    expect(readdirSync(out).sort()).toEqual(['forced-new.json', 'new.json', 'owned.csv', 'private.csv', 'shared.ckpt']);
  });
});
