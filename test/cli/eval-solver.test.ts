/**
 * `odelab eval --method/--step-size/--rtol/--atol/--max-steps`: a checkpoint scored with another ODE solver than
 * its run trained with, as a user runs it (real processes, a real tiny training run, real scoring), and the solver
 * flags checked as `odelab train` checks them.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scoringSolverFromFlags } from '../../src-main/cli/info-commands';
import { RunConfig } from '../../src-shared/run-config';
import { runOdelab } from './odelab-process';
import { tempDir } from '../train/fixtures';

const dataDir = tempDir();
const odelabEnv = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(tempDir(), 'lab.db') };
const odelab = (...args: string[]) => runOdelab(odelabEnv, args);

/** `odelab <args> --json`'s document, the command having succeeded. */
function json(...args: string[]): Record<string, unknown> {
  const r = odelab(...args, '--json');
  if (r.code !== 0) throw new Error(`odelab ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A small shapes dataset (400 training, 600 test images: quick to generate and score), 200 of them trained on. */
const datasetConfig = join(tempDir(), 'dataset.json');
writeFileSync(datasetConfig, JSON.stringify({ dataset: { kind: 'shapes', mode: 'compound', trainCount: 400, testCount: 600 } }));
const tinyRun = ['--config', datasetConfig, '--epochs', '1', '--batch-size', '100', '--train-size', '200', '--lr', '0.003', '--seed', '4'];

describe('odelab eval with another solver', () => {
  let runId: string;
  let checkpoint: string;
  let testAccuracy: number;
  beforeAll(() => {
    // Euler at step 0.25: 4 evaluations per forward pass.
    const out = join(tempDir(), 'run');
    const r = odelab('train', '--model', 'shapes-odenet', '--method', 'euler', '--step-size', '0.25', ...tinyRun, '--out', out, '--json');
    if (r.code !== 0) throw new Error(`odelab train exited ${r.code}: ${r.stderr}`);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    runId = String(events[0].runId);
    testAccuracy = events.find((e) => e.event === 'epoch')!.testAccuracy as number;
    checkpoint = join(out, 'checkpoints', readdirSync(join(out, 'checkpoints'))[0]);
  });

  it('scores with the solver it trained with as training did, naming no other', () => {
    const same = json('eval', '--run', runId, '--method', 'euler', '--step-size', '0.25');
    expect(same.accuracy).toBeCloseTo(testAccuracy, 10);
    expect(same).toMatchObject({ count: 600, nfeForwardMean: 4, solver: { method: 'euler', stepSize: 0.25 } });
    expect(same).not.toHaveProperty('trainedSolver');
    const text = odelab('eval', '--checkpoint', checkpoint, '--step-size', '0.25', '--limit', '100');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^.*epoch-001\.ckpt: epoch 1 \(trained weights\): test loss [\d.]+, accuracy [\d.]+% on 100 images, NFE 4\.0 per batch\n$/);
  });

  it('scores with a finer or coarser fixed step or another method: 1/step evaluations per forward pass, and says so', () => {
    const finer = json('eval', '--checkpoint', checkpoint, '--step-size', '0.05', '--limit', '300');
    expect(finer).toMatchObject({ count: 300, nfeForwardMean: 20, solver: { method: 'euler', stepSize: 0.05 }, trainedSolver: { method: 'euler', stepSize: 0.25 } });
    expect(finer.accuracy).toBeGreaterThanOrEqual(0);
    expect(finer.accuracy).toBeLessThanOrEqual(1);
    // Split over two workers (the pool is built with the scoring solver): the same scores, the same work.
    const parallel = json('eval', '--checkpoint', checkpoint, '--step-size', '0.05', '--limit', '300', '--workers', '2');
    expect(parallel).toMatchObject({ accuracy: finer.accuracy, confusion: finer.confusion, nfeForwardMean: 20 });
    // rk4 at 0.25: four steps of four evaluations; the text names both solvers.
    const rk4 = odelab('eval', '--run', runId, '--method', 'rk4', '--step-size', '0.25', '--limit', '100');
    expect(rk4.code).toBe(0);
    expect(rk4.stdout).toMatch(
      new RegExp(`^run ${runId}, epoch 1 \\(trained weights\\): test loss [\\d.]+, accuracy [\\d.]+% on 100 images, NFE 16\\.0 per batch\n` +
        'solver: rk4 step 0\\.25 \\(trained with euler step 0\\.25\\)\n$'),
    );
    // --method alone, as train --resume reads it: another fixed-step method keeps the run's step (0.25: 4 steps of
    // 2 evaluations), and the JSON says which step scored; an adaptive one takes its default tolerances.
    expect(json('eval', '--run', runId, '--method', 'midpoint', '--limit', '100')).toMatchObject({ nfeForwardMean: 8, solver: { method: 'midpoint', stepSize: 0.25 } });
    expect(json('eval', '--run', runId, '--method', 'dopri5', '--limit', '100')).toMatchObject({ solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3 } });
    // Only the step limit changed: named as it differs.
    expect(odelab('eval', '--run', runId, '--max-steps', '4', '--limit', '100').stdout).toContain(
      'solver: euler step 0.25 maxSteps 4 (trained with euler step 0.25 maxSteps 1000)',
    );
  });

  it('scores with an adaptive method at the tolerances given', () => {
    const adaptive = json('eval', '--run', runId, '--method', 'dopri5', '--rtol', '1e-3', '--limit', '100');
    expect(adaptive).toMatchObject({ solver: { method: 'dopri5', rtol: 1e-3 }, trainedSolver: { method: 'euler' } });
    expect(adaptive.nfeForwardMean).toBeGreaterThan(0);
    const text = odelab('eval', '--run', runId, '--method', 'dopri5', '--rtol', '1e-3', '--limit', '100');
    expect(text.stdout).toContain('\nsolver: dopri5 rtol 0.001 atol 0.001 (trained with euler step 0.25)\n');
  });

  it('refuses solver flags as train would, in eval’s words: exit 2, nothing scored, naming the flags typed', () => {
    const cases: [string[], string][] = [
      [['--rtol', '1e-3'], "--rtol: 'euler' takes a fixed step (--step-size), not tolerances"],
      [['--method', 'rk4', '--atol', '1e-3'], "--atol: 'rk4' takes a fixed step (--step-size), not tolerances"],
      [['--method', 'dopri5', '--step-size', '0.1'], "--step-size: 'dopri5' chooses its own step size; set --rtol/--atol instead of --step-size"],
      // The run's step limit refuses the step typed: named by the flag typed.
      [['--step-size', '0.0001'], '--step-size: euler with --step-size 0.0001 needs 10000 steps over [0, 1]; --max-steps is 1000: raise --max-steps to 10000 or more, or the step size'],
      [['--max-steps', '3'], '--max-steps: euler with --step-size 0.25 needs 4 steps over [0, 1]; --max-steps is 3: raise --max-steps to 4 or more, or the step size'],
      [['--step-size', '0'], '--step-size: Too small: expected number to be >0'],
      [['--step-size', '2'], "--step-size 2 is longer than the ODE block's interval [0, 1]: at most 1 (one step)"],
      [['--method', 'dopri5', '--rtol', '1e-60', '--atol', '1e300'],
        "--rtol: 1e-60 is below float32's range (the solver's error norm is float32, at least 1.2e-38)\n--atol: 1e+300 is beyond float32 (the solver's error norm is float32, at most 3.4e38)"],
    ];
    for (const [flags, reason] of cases) {
      const evaluated = odelab('eval', '--checkpoint', checkpoint, ...flags);
      // The flags as typed (numbers as read: 1e300 is 1e+300).
      const typed = flags.join(' ').replace('1e-3', '0.001').replace('1e300', '1e+300');
      expect({ flags, code: evaluated.code, stdout: evaluated.stdout, stderr: evaluated.stderr }).toEqual({
        flags,
        code: 2,
        stdout: '',
        stderr: `INVALID_ARGUMENT: eval: cannot score ${checkpoint} with ${typed}:\n${reason}\n`,
      });
    }
    // train keeps its own words for the same flags (the config's fields), with the same exit code.
    const trained = odelab('train', '--resume', checkpoint, '--epochs', '2', '--method', 'dopri5', '--step-size', '0.1');
    expect(trained).toMatchObject({ code: 2, stderr: expect.stringMatching(/^INVALID_ARGUMENT: invalid run configuration:\nmodel\.solver\.stepSize: 'dopri5' chooses/) });
    // The parsers' and choices' usage errors, naming the flag.
    expect(odelab('eval', '--run', runId, '--method', 'rk45')).toMatchObject({ code: 2, stderr: expect.stringMatching(/option '--method <name>' argument 'rk45' is invalid/) });
    expect(odelab('eval', '--run', runId, '--step-size', 'fine')).toMatchObject({ code: 2, stderr: expect.stringMatching(/'--step-size <h>' argument 'fine' is invalid\. expected a number/) });
    expect(odelab('eval', '--run', runId, '--max-steps', '2.5')).toMatchObject({ code: 2, stderr: expect.stringMatching(/'--max-steps <n>' argument '2\.5' is invalid\. expected an integer/) });
  });

  it('refuses solver flags for a model without an ODE block', () => {
    const r = odelab('train', '--model', 'mlp', ...tinyRun, '--json');
    expect(r.code).toBe(0);
    const mlpRun = String((JSON.parse(r.stdout.split('\n')[0]) as { runId: number }).runId);
    const refused = odelab('eval', '--run', mlpRun, '--step-size', '0.1');
    expect(refused).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `INVALID_ARGUMENT: --step-size: run ${mlpRun}, epoch 1 holds a 'mlp' model and it has no ODE block: there is no solver to score it with\n`,
    });
    expect(odelab('eval', '--run', mlpRun, '--method', 'rk4', '--rtol', '1e-3').stderr).toMatch(/^INVALID_ARGUMENT: --method: .* 'mlp' model and it has no ODE block/);
    // Without them it is scored as before, naming no solver.
    const scored = json('eval', '--run', mlpRun, '--limit', '100');
    expect(scored).toMatchObject({ count: 100, nfeForwardMean: 0 });
    expect(scored).not.toHaveProperty('solver');
  });
});

describe('scoringSolverFromFlags', () => {
  const config = (model: Record<string, unknown>) => RunConfig.parse({ model, dataset: { kind: 'shapes' } });
  const trained = config({ name: 'shapes-odenet', solver: { method: 'tsit5', rtol: 1e-4, atol: 1e-6, maxSteps: 200, controller: 'PI' } });

  it("changes the run's solver as train --resume does: --method keeps the run's step or tolerances within a kind", () => {
    expect(scoringSolverFromFlags({}, trained, 'run 1')).toBeUndefined();
    expect(scoringSolverFromFlags({ rtol: 1e-5 }, trained, 'run 1')).toMatchObject({ method: 'tsit5', rtol: 1e-5, atol: 1e-6, maxSteps: 200, controller: 'PI' });
    expect(scoringSolverFromFlags({ method: 'dopri5' }, trained, 'run 1')).toMatchObject({ method: 'dopri5', rtol: 1e-4, atol: 1e-6, maxSteps: 200, controller: 'PI' });
    const rk4 = scoringSolverFromFlags({ method: 'rk4' }, trained, 'run 1')!; // another kind: the catalogue's step
    expect(rk4).toMatchObject({ method: 'rk4', maxSteps: 200 });
    expect(rk4.stepSize).toBeUndefined();
    expect(rk4.rtol).toBeUndefined();
    const euler = config({ name: 'odenet-mnist', solver: { method: 'euler', stepSize: 0.05 } });
    expect(scoringSolverFromFlags({ method: 'rk4' }, euler, 'run 2')).toMatchObject({ method: 'rk4', stepSize: 0.05 });
    expect(scoringSolverFromFlags({ maxSteps: 30 }, euler, 'run 2')).toMatchObject({ method: 'euler', stepSize: 0.05, maxSteps: 30 });
  });

  it('refuses them for models whose ODE block does not follow a solver spec (mlp and resnet have none, rknet fixes its own)', () => {
    expect(() => scoringSolverFromFlags({ method: 'rk4' }, config({ name: 'resnet' }), 'run 4')).toThrow(/--method: run 4 holds a 'resnet' model and it has no ODE block/);
    expect(() => scoringSolverFromFlags({ maxSteps: 30 }, config({ name: 'rknet', blocks: 3 }), 'x.ckpt')).toThrow(
      /--max-steps: x\.ckpt holds a 'rknet' model and its RK4 steps are its layers \(model\.blocks: 3\)/,
    );
    // A model with one: a step size for its adaptive method is the schema's to refuse, as train's, said in eval's words.
    let refusal: unknown;
    try {
      scoringSolverFromFlags({ stepSize: 0.5 }, config({ name: 'convnode-fashion' }), 'run 5');
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toMatchObject({
      reason: "eval: cannot score run 5 with --step-size 0.5:\n--step-size: 'dopri5' chooses its own step size; set --rtol/--atol instead of --step-size",
      details: { field: 'step-size' },
    });
  });
});
