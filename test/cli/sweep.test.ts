/**
 * `odelab train --sweep … --study <name>` as a user runs it: real processes on real store files, tiny shapes runs
 * (two batches of 60 images, 70 test images: about 2 s each). Stopped, and run again, it continues.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src-shared/run-config';
import { tempDir } from '../train/fixtures';
import { openDatabase } from '../../src-main/store/database';
import { expectFailure, jsonDocument, startOdelab, type CliResult } from './odelab-process';

const folder = tempDir();
const env = { ...process.env, ODELAB_DATA_DIR: join(folder, 'data'), ODELAB_DB: join(folder, 'default.db') };
const odelab = (...args: string[]) => startOdelab(env, args);
const json = (...args: string[]) => jsonDocument(env, args);
const tiny = ['--model', 'shapes-odenet', '--dataset', 'shapes', '--train-size', '120', '--batch-size', '60', '--epochs', '1', '--test-size', '70'];
const lines = (stdout: string) =>
  stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; runId: number; config: RunConfig; status?: string; startStep?: number });

type Line = { event: string; runId: number; step?: number; startStep?: number; status?: string };

/**
 * `odelab <sweep>` in its own process group, as a terminal's foreground job: Ctrl-C (SIGINT to the group) reaches
 * the CLI and its training process. Sent after the first run's first batch, once `meanwhile` (if any) is done.
 */
async function interruptedSweep(sweep: string[], meanwhile?: () => Promise<unknown>) {
  const cli = spawn(process.execPath, ['bin/odelab.js', ...sweep], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
  const events: Line[] = [];
  for await (const line of createInterface({ input: cli.stdout })) {
    events.push(JSON.parse(line) as Line);
    if (events.at(-1)!.event === 'batch' && events.at(-1)!.step === 1) {
      await meanwhile?.();
      process.kill(-cli.pid!, 'SIGINT');
    }
  }
  return { code: await exited, events, stderr };
}

/** A run's batch losses as the store keeps them, in step order. */
function batchLosses(db: string, runId: number): number[] {
  const d = openDatabase(db, { readonly: true });
  try {
    return d.prepare('SELECT loss FROM batch_metrics WHERE run_id = ? ORDER BY step').pluck().all(runId) as number[];
  } finally {
    d.close();
  }
}

describe('odelab train --sweep', () => {
  it('runs the product one after another, named by their values, in a study that records the grid', async () => {
    const db = join(folder, 'sweep.db');
    const r = await odelab('train', ...tiny, '--method', 'euler', '--sweep', 'step-size=0.5,1', '--sweep', 'seed=1,2', '--study', 'grid', '--db', db, '--json');
    expect(r.code, r.stderr).toBe(0);
    const events = lines(r.stdout);
    const started = events.filter((e) => e.event === 'started');
    const runIds = started.map((e) => e.runId);
    expect(new Set(runIds).size).toBe(4);
    // Each run's events carry its id, and come whole before the next run's.
    expect(events.map((e) => e.runId)).toEqual([...events.map((e) => e.runId)].sort((a, b) => a - b));
    expect(events.filter((e) => e.event === 'ended').map((e) => [e.runId, e.status])).toEqual(runIds.map((id) => [id, 'completed']));
    expect(started.map((e) => [e.config.model.solver.stepSize, e.config.seed, e.config.name])).toEqual([
      [0.5, 1, 'shapes-odenet · euler · shapes step-size=0.5 seed=1'],
      [0.5, 2, 'shapes-odenet · euler · shapes step-size=0.5 seed=2'],
      [1, 1, 'shapes-odenet · euler · shapes step-size=1 seed=1'],
      [1, 2, 'shapes-odenet · euler · shapes step-size=1 seed=2'],
    ]);
    expect(started.every((e) => e.config.trainSize === 120 && e.config.model.solver.method === 'euler')).toBe(true);
    const study = await json('studies', 'show', 'grid', '--db', db);
    expect(study.grid).toEqual({ 'step-size': [0.5, 1], seed: [1, 2] });
    expect(study.runs.map((run: { id: number }) => run.id).sort()).toEqual(runIds);
    expect(study.runs.map((run: { name: string }) => run.name)).toContain('shapes-odenet · euler · shapes step-size=1 seed=2');

    // A study made by another grid, or by hand, would no longer say what made its runs: refused, nothing run.
    await odelab('studies', 'add', 'by-hand', String(runIds[0]), '--db', db);
    const [otherGrid, byHand] = await Promise.all([
      odelab('train', ...tiny, '--method', 'euler', '--sweep', 'seed=3', '--study', 'grid', '--db', db, '--json'),
      odelab('train', ...tiny, '--method', 'euler', '--sweep', 'seed=3', '--study', 'by-hand', '--db', db, '--json'),
    ]);
    expectFailure(otherGrid, 2, /^INVALID_ARGUMENT: --study: study 'grid' exists with the grid \{"step-size":\[0\.5,1\],"seed":\[1,2\]\}, not this sweep's \{"seed":\[3\]\}/);
    expectFailure(byHand, 2, /study 'by-hand' exists with no grid/);
    expect((await json('runs', 'list', '--db', db)).length).toBe(4);
  }, 120_000);

  it("sweeps --blocks into the baselines: resnet's blocks are its weights, rknet's its RK4 steps (the forward NFE)", async () => {
    const db = join(folder, 'blocks.db');
    const baseline = ['--dataset', 'shapes', '--train-size', '60', '--batch-size', '60', '--epochs', '1', '--test-size', '70'];
    const r = await odelab('train', ...baseline, '--sweep', 'model=resnet,rknet', '--sweep', 'blocks=1,2', '--study', 'depth', '--db', db, '--json');
    expect(r.code, r.stderr).toBe(0);
    const events = lines(r.stdout) as (ReturnType<typeof lines>[number] & { parameterCount: number; nfeForwardMean: number })[];
    const started = events.filter((e) => e.event === 'started');
    const epochs = events.filter((e) => e.event === 'epoch');
    expect(started.map((e) => [e.config.name, e.config.model.blocks, e.config.model.solver.method, e.config.model.solver.stepSize])).toEqual([
      ['resnet · 1 block · shapes model=resnet blocks=1', 1, 'dopri5', undefined],
      ['resnet · 2 blocks · shapes model=resnet blocks=2', 2, 'dopri5', undefined],
      ['rknet · rk4×1 · shapes model=rknet blocks=1', 1, 'rk4', 1],
      ['rknet · rk4×2 · shapes model=rknet blocks=2', 2, 'rk4', 0.5],
    ]);
    // A residual block's own weights (two 3×3 convs 65→64 and three GroupNorms: 75 392); rknet's steps share one block.
    const [resnet1, resnet2, rknet1, rknet2] = started.map((e) => e.parameterCount);
    expect(resnet2 - resnet1).toBe(2 * (65 * 9 * 64 + 64) + 3 * 2 * 64);
    expect(rknet2).toBe(rknet1);
    // Four evaluations of the block per RK4 step; a ResNet solves nothing.
    expect(epochs.map((e) => e.nfeForwardMean)).toEqual([0, 0, 4, 8]);
    const listed = await odelab('runs', 'list', '--study', 'depth', '--db', db);
    expect(listed.stdout.trimEnd().split('\n')).toEqual([/ rknet +rk4×2 /, / rknet +rk4×1 /, / resnet +2 blocks /, / resnet +1 block /].map((re) => expect.stringMatching(re)));
  }, 120_000);

  it('goes on after a failed run and exits 1', async () => {
    const db = join(folder, 'failing.db');
    // Implicit Euler's Newton iteration does not converge at step 1 on this model; explicit Euler has none to fail.
    const r = await odelab('train', ...tiny, '--step-size', '1', '--sweep', 'method=implicit-euler,euler', '--study', 's', '--db', db, '--json');
    expect(r.code).toBe(1);
    const ended = lines(r.stdout).filter((e) => e.event === 'ended');
    expect(ended.map((e) => e.status)).toEqual(['failed', 'completed']);
    expect(r.stderr).toMatch(new RegExp(`^sweep: 2 runs in study 's'; not completed: run ${ended[0].runId} \\(method=implicit-euler\\) failed$`, 'm'));
  }, 120_000);

  it('stops on Ctrl-C: the current run cancelled, the rest not started, exit 130; the same sweep elsewhere meanwhile is refused', async () => {
    const db = join(folder, 'cancelled.db');
    const sweep = ['train', ...tiny, '--epochs', '20', '--method', 'euler', '--sweep', 'seed=1,2,3', '--study', 's', '--db', db, '--json'];
    // The run trains on while the second process looks (20 epochs: far longer than it takes), then is stopped.
    let meanwhile: CliResult | undefined;
    const stopped = await interruptedSweep(sweep, async () => (meanwhile = await odelab(...sweep)));
    expectFailure(
      meanwhile!,
      2,
      /^INVALID_ARGUMENT: --sweep seed=1: run 1 in study 's' is running in another process; wait for it to end, or stop it \(odelab runs cancel 1\), then run the sweep again$/m,
    );
    expect(stopped.code).toBe(130);
    expect(stopped.events.filter((e) => e.event === 'started')).toHaveLength(1);
    expect(stopped.events.at(-1)).toMatchObject({ event: 'ended', status: 'cancelled' });
    expect(stopped.stderr).toMatch(
      /^sweep stopped: run 1 of 3 \(seed=1, run 1\) was cancelled; 2 combinations not started\. Run the same command again to continue the sweep \(run 1 resumes where it stopped; completed runs are skipped\)$/m,
    );
    expect((await json('runs', 'list', '--db', db)).map((run: { status: string }) => run.status)).toEqual(['cancelled']);
  }, 120_000);

  it('continues a stopped sweep when run again: its stopped run resumed in place, the rest started; then all skipped; other flags refused', async () => {
    const db = join(folder, 'continued.db');
    const sweep = ['train', ...tiny, '--epochs', '2', '--method', 'euler', '--sweep', 'seed=1,2', '--study', 's', '--db', db, '--json'];
    const stopped = await interruptedSweep(sweep);
    expect(stopped.code).toBe(130);
    const first = stopped.events.find((e) => e.event === 'started')!.runId;

    const again = await odelab(...sweep);
    expect(again.code, again.stderr).toBe(0);
    const events = lines(again.stdout);
    const second = events.filter((e) => e.event === 'started').at(-1)!.runId;
    expect(second).not.toBe(first);
    expect(events.filter((e) => e.event === 'combination')).toEqual([
      { event: 'combination', runId: first, combination: 'seed=1', index: 1, of: 2, action: 'resume', status: 'cancelled', older: [] },
      { event: 'combination', runId: second, combination: 'seed=2', index: 2, of: 2, action: 'start' },
    ]);
    // In place, from where Ctrl-C left it (a resume point), not from the start.
    expect(events.find((e) => e.event === 'started')).toMatchObject({ runId: first, startStep: expect.any(Number) });
    expect(events.find((e) => e.event === 'started')!.startStep).toBeGreaterThan(0);
    expect(events.filter((e) => e.event === 'ended').map((e) => [e.runId, e.status])).toEqual([
      [first, 'completed'],
      [second, 'completed'],
    ]);

    // The same config never stopped (a plain train, added to the study by --study): the same batch losses, bit for bit.
    const straight = await odelab('train', ...tiny, '--epochs', '2', '--method', 'euler', '--seed', '1', '--study', 's', '--db', db, '--json');
    expect(straight.code, straight.stderr).toBe(0);
    const reference = lines(straight.stdout)[0].runId;
    expect(batchLosses(db, first)).toEqual(batchLosses(db, reference));
    expect(batchLosses(db, first)).toHaveLength(4);

    // A third time: nothing left to run. seed=1 now has two runs in the study; the newest counts, and is named.
    const third = await odelab(...sweep);
    expect(third.code, third.stderr).toBe(0);
    expect(lines(third.stdout)).toEqual([
      { event: 'combination', runId: reference, combination: 'seed=1', index: 1, of: 2, action: 'skip', status: 'completed', older: [first] },
      { event: 'combination', runId: second, combination: 'seed=2', index: 2, of: 2, action: 'skip', status: 'completed', older: [] },
    ]);

    // Other flags than the sweep's: its runs would not be comparable; refused, naming each difference.
    const otherEpochs = await odelab(...sweep, '--epochs', '3');
    expectFailure(otherEpochs, 2, /^INVALID_ARGUMENT: --sweep: 2 of the sweep's 2 combinations are refused; nothing was run:\n/);
    expect(otherEpochs.stderr).toContain(
      `  seed=1: run ${reference} in study 's' was made with other settings: epochs 2 (this command: 3); to continue the sweep, give the flags it was started with; for a new sweep, another --study\n`,
    );
    expect(otherEpochs.stderr).toContain(`  seed=2: run ${second} in study 's' was made with other settings: epochs 2 (this command: 3);`);
    expect((await json('runs', 'list', '--db', db)).length).toBe(3);
  }, 120_000);

  it('refuses, before the store is made, a sweep any combination of which train would refuse, and what a sweep cannot be', async () => {
    const db = join(folder, 'never.db');
    const train = (...args: string[]) => odelab('train', ...args, '--db', db, '--json');
    const [invalidCombination, tooLarge, badValue, noStudy, withOut, twice, notSweepable, mlpMethods, rknetGradient] = await Promise.all([
      train('--preset', 'shapes-euler', '--step-size', '0.05', '--sweep', 'method=euler,dopri5', '--study', 's'),
      train('--preset', 'shapes-euler', '--sweep', 'train-size=100,99999', '--sweep', 'seed=1,2', '--study', 's'),
      train(...tiny, '--sweep', 'method=euler,rk45', '--study', 's'),
      train(...tiny, '--sweep', 'seed=1,2'),
      train(...tiny, '--sweep', 'seed=1,2', '--study', 's', '--out', join(folder, 'out')),
      train(...tiny, '--seed', '1', '--sweep', 'seed=1,2', '--study', 's'),
      train(...tiny, '--sweep', 'workers=1,2', '--study', 's'),
      // A baseline without a settable solver: the sweep refused as the single run is.
      train('--preset', 'mnist-odenet', '--model', 'mlp', '--sweep', 'method=euler,rk4', '--study', 's'),
      train('--preset', 'mnist-odenet', '--model', 'rknet', '--gradient', 'adjoint'),
    ]);
    expectFailure(invalidCombination, 2, /^INVALID_ARGUMENT: --sweep method=dopri5: invalid run configuration:\nmodel\.solver\.stepSize: 'dopri5' chooses its own step size/);
    expectFailure(
      tooLarge,
      2,
      /^INVALID_ARGUMENT: --sweep: 2 of the sweep's 4 combinations are refused; nothing was run:\n {2}train-size=99999 seed=1: trainSize 99999 is more than the 5400 training images.*\n {2}train-size=99999 seed=2: trainSize 99999 is more than the 5400 training images[^\n]*\n$/,
    );
    expectFailure(badValue, 2, /--sweep method=euler,rk45: option '--method <name>' argument 'rk45' is invalid\. Allowed choices are/);
    expectFailure(noStudy, 2, /--sweep needs --study <name>/);
    expectFailure(withOut, 2, /--out cannot be used with --sweep: each run would need a folder of its own/);
    expectFailure(twice, 2, /--seed is given both plainly and in --sweep/);
    expectFailure(notSweepable, 2, /--sweep workers=1,2: --workers cannot be swept/);
    const mlpNoSolver = "--method: model 'mlp' has no ODE block, so no solver; --method does not apply to it";
    expect(mlpMethods.stderr).toBe(
      `INVALID_ARGUMENT: --sweep: 2 of the sweep's 2 combinations are refused; nothing was run:\n  method=euler: ${mlpNoSolver}\n  method=rk4: ${mlpNoSolver}\n`,
    );
    expect(mlpMethods.code).toBe(2);
    expectFailure(rknetGradient, 2, /^INVALID_ARGUMENT: --gradient: model 'rknet' integrates its block on a fixed grid of 6 RK4 steps/);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(join(folder, 'out'))).toBe(false);
  }, 120_000);

  it('documents itself in --help', async () => {
    const help = await odelab('train', '--help');
    expect(help.stdout).toMatch(/--sweep <flag=v1,v2,...>/);
    expect(help.stdout).toMatch(/Sweeps:\n {2}odelab train --preset shapes-euler --sweep method=/);
  });
});
