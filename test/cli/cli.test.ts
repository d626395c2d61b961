/** The `odelab` command line as a user runs it: real processes, real exit codes, real output. */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { createHash } from 'node:crypto';
import { loadDataset, subsetStratified } from '../../src-main/data';
import { runOdelab } from './odelab-process';
import { expectNoTfjsFrom } from '../tfjs-loaded';
import { tempDir } from '../train/fixtures';

const dataDir = tempDir();
const dbFolder = tempDir();

const odelabEnv = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(dbFolder, 'lab.db') };

const odelab = (...args: string[]) => runOdelab(odelabEnv, args);

describe('odelab', () => {
  it('lists models with their parameter counts as JSON', () => {
    const { code, stdout } = odelab('models', '--json');
    expect(code).toBe(0);
    const models = JSON.parse(stdout) as { name: string; parameters: number; classes: number; otherClasses: unknown[]; blocks: number | null }[];
    expect(models.find((m) => m.name === 'odenet-mnist')?.parameters).toBe(10_564);
    expect(models.find((m) => m.name === 'convnode-fashion')?.parameters).toBe(87_532);
    // The shapes model as the presets train it (compound: 7 classes; its head is 129 parameters a class), the single mode's 3 beside.
    expect(models.find((m) => m.name === 'shapes-odenet')).toMatchObject({ parameters: 56_967, classes: 7, otherClasses: [{ classes: 3, parameters: 56_451 }] });
    expect(models.find((m) => m.name === 'mlp')).toMatchObject({ parameters: 238_510, classes: 10, otherClasses: [] });
    // Which models take --blocks, with its default (resnet counted at it); the others say null.
    expect(Object.fromEntries(models.map((m) => [m.name, m.blocks]))).toMatchObject({ resnet: 6, rknet: 6, mlp: null, 'odenet-paper': null });
    expect(models.find((m) => m.name === 'resnet')?.parameters).toBe(585_226);
    const text = odelab('models').stdout.split('\n');
    expect(text.find((l) => l.startsWith('rknet '))).toMatch(/fixed RK4 grid \(N steps\) with direct backprop\. --blocks <n> sets N \(default 6\)\.$/);
    expect(text.find((l) => l.startsWith('mlp '))).not.toMatch(/--blocks|Counted/);
    expect(text.find((l) => l.startsWith('shapes-odenet '))).toMatch(/^shapes-odenet +56967 .* 3 or 7 classes\. Counted for 7 classes \(56451 for 3\)\.$/);
    // A reader that is gone before the output comes (`| true`; `| head` when it has read enough) ends it
    // quietly: exit code 0, no EPIPE stack trace.
    const piped = spawnSync('bash', ['-c', 'node bin/odelab.js models | true; exit ${PIPESTATUS[0]}'], { encoding: 'utf8' });
    expect(piped.stderr).toBe('');
    expect(piped.status).toBe(0);
  });

  it('loads the engine (tfjs) only for the commands that compute: models, eval, and the training process', () => {
    // tfjs-core keeps its engine in a global as it loads: the command modules alone must not create it.
    expectNoTfjsFrom(['runs-command', 'studies-command', 'datasets-command', 'info-commands', 'train-command'].map((m) => `src-main/cli/${m}.ts`));
  });

  it('lists solvers and presets', () => {
    const solvers = JSON.parse(odelab('solvers', '--json').stdout) as { name: string }[];
    expect(solvers.map((s) => s.name)).toContain('implicit-midpoint');
    // The text listing shows each default, as --help says: a fixed step's size, an adaptive pair's tolerances.
    const text = odelab('solvers').stdout.split('\n');
    expect(text.find((l) => l.startsWith('euler '))).toMatch(/order 1 +explicit fixed +step 0\.1 +y₁ = /);
    expect(text.find((l) => l.startsWith('dopri5 '))).toMatch(/order 5 +explicit adaptive +tol 0\.001 +Adaptive fifth-order/);
    const presets = JSON.parse(odelab('presets', '--json').stdout) as Record<string, unknown>;
    expect(Object.keys(presets)).toEqual([
      'fashion-convnode',
      'mnist-odenet',
      'paper-odenet',
      'shapes-euler',
      'shapes-implicit-euler',
      'shapes-crank-nicolson',
    ]);
    const listed = odelab('presets').stdout.split('\n').find((l) => l.startsWith('paper-odenet '));
    expect(listed).toMatch(/odenet_mnist\.py.*dopri5 rtol=atol=1e-3, adjoint, SGD 0\.1 momentum 0\.9, batch 128, 160 epochs, lr ×0\.1 after epochs 60, 100, 140/);
    expect((presets['paper-odenet'] as { config: unknown }).config).toMatchObject({ augment: 'crop', optimizer: { schedule: 'step', milestones: [60, 100, 140] } });
  });

  it('rejects invalid flags and configs with exit code 2, naming the field', () => {
    const badLr = odelab('train', '--preset', 'shapes-euler', '--lr', '-1');
    expect(badLr.code).toBe(2);
    expect(badLr.stderr).toMatch(/optimizer\.lr/);
    const badAveraging = odelab('train', '--preset', 'fashion-convnode', '--ema-decay', '1');
    expect(badAveraging.code).toBe(2);
    expect(badAveraging.stderr).toMatch(/emaDecay.*1/);
    const badMethod = odelab('train', '--method', 'rk45');
    expect(badMethod.code).toBe(2);
    expect(badMethod.stderr).toMatch(/--method/);
    const adaptiveWithStep = odelab('train', '--preset', 'fashion-convnode', '--step-size', '0.1');
    expect(adaptiveWithStep.code).toBe(2);
    expect(adaptiveWithStep.stderr).toMatch(/model\.solver\.stepSize/);
    const config = join(tempDir(), 'bad.json');
    writeFileSync(config, '{"model": {"name": "odenet-mnist"}, "dataset": {"kind": "cifar"}}');
    const badConfig = odelab('train', '--config', config);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/dataset/);
    expect(odelab('train', '--config', join(tempDir(), 'missing.json')).stderr).toMatch(/--config: cannot read/);
    const badSplit = odelab('eval', '--checkpoint', 'x.ckpt', '--split', 'validation');
    expect(badSplit.code).toBe(2);
    expect(badSplit.stderr).toMatch(/--split <name>.*'validation' is invalid.*test, train, held-out/);
    const badLimit = odelab('eval', '--checkpoint', 'x.ckpt', '--limit', '0');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toMatch(/--limit <n>.*expected a positive integer, got '0'/);
    // Integers are read whole: parseInt would train 1.9 epochs as 1 and '2abc' as 2.
    const fractionalEpochs = odelab('train', '--preset', 'shapes-euler', '--epochs', '1.9');
    expect(fractionalEpochs.code).toBe(2);
    expect(fractionalEpochs.stderr).toMatch(/--epochs <n>.*expected an integer, got '1.9'/);
    expect(odelab('train', '--preset', 'shapes-euler', '--seed', '2abc').stderr).toMatch(/--seed <n>.*expected an integer, got '2abc'/);
    expect(odelab('eval', '--run', 'abc').stderr).toMatch(/--run <id>.*expected a positive integer, got 'abc'/);
  });

  it('refuses flags that mean nothing with the rest of the config, unknown settings and unusable paths', () => {
    // Flags that mean nothing with the rest of the config, and settings this lab does not have, are refused.
    expect(odelab('train', '--preset', 'shapes-euler', '--rtol', '1e-3').stderr).toMatch(/--rtol: 'euler' takes a fixed step \(--step-size\), not tolerances/);
    expect(odelab('train', '--preset', 'shapes-euler', '--momentum', '0.9').stderr).toMatch(/--momentum: only SGD uses momentum; this run's optimizer is adam/);
    expect(odelab('train', '--preset', 'mnist-odenet', '--shapes-mode', 'single').stderr).toMatch(/--shapes-mode: only the shapes dataset has modes/);
    const misspelt = join(tempDir(), 'misspelt.json');
    writeFileSync(misspelt, '{"epochz": 3, "optimizer": {"lr": 0.01, "sheduler": "cosine"}}');
    const unknownKeys = odelab('train', '--preset', 'shapes-euler', '--config', misspelt);
    expect(unknownKeys.code).toBe(2);
    expect(unknownKeys.stderr).toMatch(/^epochz: not a setting of this lab$/m);
    expect(unknownKeys.stderr).toMatch(/^optimizer\.sheduler: not a setting of this lab$/m);
    // What the config and the machine rule out is refused before the store is even opened: no store file is made.
    const neverMade = join(tempDir(), 'never.db');
    const tooMany = odelab('train', '--preset', 'shapes-euler', '--train-size', '99999', '--db', neverMade);
    expect(tooMany).toMatchObject({ code: 2, stderr: expect.stringMatching(/trainSize 99999 is more than the 5400 training images of this shapes dataset/) });
    const tooManyMnist = odelab('train', '--preset', 'mnist-odenet', '--train-size', '60001', '--db', neverMade);
    expect(tooManyMnist).toMatchObject({ code: 2, stderr: expect.stringMatching(/trainSize 60001 is more than the 60000 training images of this mnist dataset/) });
    const bogus = spawnSync(process.execPath, ['bin/odelab.js', 'train', '--preset', 'shapes-euler', '--db', neverMade], {
      encoding: 'utf8',
      env: { ...odelabEnv, ODELAB_BACKEND: 'webgpu' },
    });
    expect(bogus).toMatchObject({ status: 2, stderr: expect.stringMatching(/^INVALID_ARGUMENT: ODELAB_BACKEND is "webgpu"; expected one of tensorflow, wasm, cpu\n$/) });
    const outIsFile = join(tempDir(), 'file');
    writeFileSync(outIsFile, '');
    expect(odelab('train', '--preset', 'shapes-euler', '--out', outIsFile, '--db', neverMade).code).toBe(2);
    const underFile = odelab('train', '--preset', 'shapes-euler', '--out', join(outIsFile, 'sub', 'run'), '--db', neverMade);
    expect(underFile).toMatchObject({ code: 2, stderr: expect.stringMatching(/--out .*sub\/run: cannot be created: .*file is a file/) });
    expect(existsSync(neverMade)).toBe(false);
    // --out: a file, or a folder holding another run's files.
    const outFile = join(tempDir(), 'file');
    writeFileSync(outFile, '');
    expect(odelab('train', '--preset', 'shapes-euler', '--out', outFile).stderr).toMatch(/--out .*file: is a file, not a folder/);
    expect(odelab('train', '--preset', 'shapes-euler', '--out', join(outFile, 'sub')).stderr).toMatch(/--out .*file\/sub: cannot be created: .*file is a file/);
    const usedFolder = tempDir();
    writeFileSync(join(usedFolder, 'events.jsonl'), '{"event":"started"}\n{"event":"batch","step":1}\n');
    const used = odelab('train', '--preset', 'shapes-euler', '--out', usedFolder);
    expect(used.code).toBe(2);
    expect(used.stderr).toMatch(/already holds a run \(events\.jsonl, checkpoints\/\); choose an empty or new folder/);
    // eval: a missing file, and --epoch or --db with a file.
    const missing = odelab('eval', '--checkpoint', join(tempDir(), 'none.ckpt'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^INVALID_ARGUMENT: --checkpoint: cannot read .*none\.ckpt: no such file or folder\n$/);
    expect(odelab('eval', '--checkpoint', 'x.ckpt', '--epoch', '2').stderr).toMatch(/--epoch picks a checkpoint of --run <id>/);
    expect(odelab('eval', '--checkpoint', 'x.ckpt', '--db', 'other.db')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--db names the run store of --run <id>/) });
    for (const command of ['train', 'eval']) {
      const badWorkers = odelab(command, '--workers', '0');
      expect(badWorkers.code).toBe(2);
      expect(badWorkers.stderr).toMatch(/--workers <n>.*expected a positive integer, got '0'/);
    }
    // More worker threads than this machine's memory holds (each is its own engine, ~150 MB): refused before a run
    // or its dataset, for train as for eval. A million need 146 485 GB.
    const store = join(tempDir(), 'lab.db');
    for (const args of [['train', '--preset', 'shapes-euler', '--db', store], ['eval', '--checkpoint', 'x.ckpt']]) {
      const tooMany = odelab(...args, '--workers', '1000000');
      expect(tooMany.code, args[0]).toBe(2);
      expect(tooMany.stderr).toMatch(/^INVALID_ARGUMENT: --workers 1000000: each worker thread runs its own engine, about 150 MB, so 1000000 need about 146485\.4 GB with the main process, more than the /);
    }
    expect(existsSync(store)).toBe(false);
  });

  // One training run, scored by several `odelab eval` processes: each test has its own time limit.
  describe('train, then eval its checkpoint', () => {
    let events: Record<string, unknown>[];
    let checkpoint: string;
    let train: Awaited<ReturnType<typeof loadDataset>>['train'];
    beforeAll(async () => {
      const out = join(tempDir(), 'run');
      const { code, stdout, stderr } = odelab(
        'train', '--model', 'shapes-odenet', '--dataset', 'shapes', '--shapes-mode', 'compound',
        '--method', 'rk4', '--step-size', '0.5', '--epochs', '1', '--batch-size', '100', '--train-size', '200',
        '--lr', '0.003', '--seed', '4', '--out', out, '--json',
      );
      if (code !== 0) throw new Error(`odelab train exited ${code}: ${stderr}`);
      events = stdout.trim().split('\n').map((l) => JSON.parse(l));
      const [file] = readdirSync(join(out, 'checkpoints'));
      checkpoint = join(out, 'checkpoints', file);
      ({ train } = await loadDataset({ kind: 'shapes', mode: 'compound' }, { dataDir }));
    });

    it('trains from flags, prints JSON lines, writes a checkpoint', () => {
      expect(events.map((e) => e.event)).toEqual(['started', 'batch', 'batch', 'epoch', 'checkpoint', 'ended']);
      expect(events[1]).toMatchObject({ nfeForward: 8, nfeBackward: 8 });
      expect(events.at(-1)).toMatchObject({ status: 'completed' });
      expect(decodeCheckpoint(readFileSync(checkpoint)).config.trainSize).toBe(200);
    });

    it('scores the test split as training reported it, the same over two workers', () => {
      const evaluation = odelab('eval', '--checkpoint', checkpoint, '--json');
      expect(evaluation.code).toBe(0);
      expect(JSON.parse(evaluation.stdout).accuracy).toBeCloseTo(events[3].testAccuracy as number, 10);
      // Split over two worker threads: the same predictions (float32 rounding aside in the loss).
      const parallel = odelab('eval', '--checkpoint', checkpoint, '--workers', '2', '--json');
      expect(parallel.code).toBe(0);
      expect(JSON.parse(parallel.stdout).accuracy).toBe(JSON.parse(evaluation.stdout).accuracy);
      expect(JSON.parse(parallel.stdout).confusion).toEqual(JSON.parse(evaluation.stdout).confusion);
      expect(JSON.parse(evaluation.stdout)).toMatchObject({ split: 'test', count: 6000 });
    });

    it('scores the training split: its first images, or all of it', () => {
      // The training split's first 64 images: the confusion matrix's rows count those images' labels.
      const first = odelab('eval', '--checkpoint', checkpoint, '--split', 'train', '--limit', '64', '--json');
      expect(first.code).toBe(0);
      const onFirst = JSON.parse(first.stdout);
      expect(onFirst).toMatchObject({ split: 'train', count: 64 });
      const perClass = onFirst.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0));
      expect(perClass).toEqual(perClass.map((_: number, c: number) => train.labels.subarray(0, 64).filter((l) => l === c).length));
      expect(onFirst.misclassified.every((i: number) => i < 64)).toBe(true);
      // All of the dataset's training images, not only the run's 200-image --train-size subset.
      const all = odelab('eval', '--checkpoint', checkpoint, '--split', 'train', '--json');
      expect(JSON.parse(all.stdout)).toMatchObject({ split: 'train', count: train.labels.length });
      expect(train.labels.length).toBe(2700);
    });

    it('stops an evaluation on Ctrl-C before its next batch: CANCELLED, exit 130 (it died by SIGINT)', async () => {
      // 2700 training images ten at a time; --json gives its progress as JSON lines on stderr. Interrupted once it
      // has scored some: it must stop within a batch or two, not score on to the end.
      const child = spawn(process.execPath, ['bin/odelab.js', 'eval', '--checkpoint', checkpoint, '--split', 'train', '--batch-size', '10', '--json'], {
        env: odelabEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let interruptedAt: number | undefined;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      createInterface({ input: child.stderr }).on('line', (line) => {
        stderr += line + '\n';
        const progress = line.startsWith('{') ? (JSON.parse(line) as { phase: string; done: number; total: number }) : undefined;
        if (progress && progress.done >= 100 && interruptedAt === undefined) {
          interruptedAt = progress.done;
          child.kill('SIGINT');
        }
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
      expect({ code, signal, stdout }).toEqual({ code: 130, signal: null, stdout: '' });
      const lines = stderr.trimEnd().split('\n');
      expect(lines.at(-1)).toBe('CANCELLED: the evaluation was cancelled');
      const scored = lines.slice(0, -1).map((l) => JSON.parse(l) as { phase: string; done: number; total: number });
      expect(scored[0]).toEqual({ phase: 'score', done: 0, total: 2700 });
      expect(scored.at(-1)!.done).toBeLessThanOrEqual(interruptedAt! + 2 * 10);
    });

    it('starts a new run from the checkpoint file with its config (train --resume), refusing what could not run', () => {
      const resumed = odelab('train', '--resume', checkpoint, '--epochs', '2', '--json');
      expect(resumed.code).toBe(0);
      const resumedEvents = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(resumedEvents[0].config).toMatchObject({ model: { name: 'shapes-odenet' }, trainSize: 200, seed: 4, epochs: 2 });
      expect(resumedEvents.filter((e) => e.event === 'epoch').map((e) => e.epoch)).toEqual([2]);
      expect(resumedEvents.at(-1)).toMatchObject({ status: 'completed', epochsCompleted: 2 });
      // The run keeps where it started: the file, its hash, its epoch; the run that wrote it is its parent.
      const sha256 = createHash('sha256').update(readFileSync(checkpoint)).digest('hex');
      const startedFrom = { file: checkpoint, sha256, epoch: 1, step: 2 };
      const shown = JSON.parse(odelab('runs', 'show', String(resumedEvents[0].runId), '--json').stdout);
      expect(shown).toMatchObject({ startedFrom, parentId: events[0].runId });
      expect(odelab('runs', 'show', String(resumedEvents[0].runId)).stdout).toContain(
        `started from ${checkpoint} (epoch 1, step 2; sha256 ${sha256.slice(0, 16)}…; written by run ${events[0].runId})`,
      );
      // A file no run of this store wrote (another store's, a colleague's) is still named; it has no parent.
      const foreign = join(tempDir(), 'foreign.ckpt');
      const ckpt = decodeCheckpoint(readFileSync(checkpoint));
      writeFileSync(foreign, encodeCheckpoint({ ...ckpt, config: { ...ckpt.config, seed: 5 } }));
      const fromForeign = odelab('train', '--resume', foreign, '--epochs', '2', '--json');
      expect(fromForeign.code).toBe(0);
      const foreignRun = JSON.parse(fromForeign.stdout.split('\n')[0]).runId;
      expect(JSON.parse(odelab('runs', 'show', String(foreignRun), '--json').stdout)).toMatchObject({
        parentId: null,
        startedFrom: { file: foreign, sha256: createHash('sha256').update(readFileSync(foreign)).digest('hex'), epoch: 1, step: 2 },
      });
      // Refused before a run is created (nothing on stdout, no run in the store), exit code 2, naming the reason.
      const storedRuns = () => (JSON.parse(odelab('runs', 'list', '--json').stdout) as unknown[]).length;
      const before = storedRuns();
      const refused = (args: string[], message: RegExp) => {
        const r = odelab('train', ...args);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(message);
      };
      refused(['--resume', checkpoint], new RegExp(`cannot start from ${checkpoint}: it is at epoch 1 and this run has epochs 1, so nothing is left to train; raise --epochs`));
      refused(['--resume', checkpoint, '--model', 'mlp', '--epochs', '2'], /it holds 'shapes-odenet' weights, this run's model is 'mlp'/);
      const truncated = join(tempDir(), 'truncated.ckpt');
      writeFileSync(truncated, readFileSync(checkpoint).subarray(0, 1000));
      refused(['--resume', truncated, '--epochs', '2'], new RegExp(`${truncated} is not a valid checkpoint`));
      refused(['--resume', join(tempDir(), 'missing.ckpt')], /--resume: cannot read .*missing\.ckpt: no such file/);
      expect(storedRuns()).toBe(before);
    });

    it('scores the training images the run held out, numbered in the training split', () => {
      // The 2500 training images outside the run's 200-image subset, in order.
      const heldOut = JSON.parse(odelab('eval', '--checkpoint', checkpoint, '--split', 'held-out', '--limit', '64', '--json').stdout);
      expect(heldOut).toMatchObject({ split: 'held-out', count: 64 });
      const trained = new Set(subsetStratified(train, 200, 4).indices);
      const firstHeldOut = Array.from({ length: train.labels.length }, (_, i) => i).filter((i) => !trained.has(i)).slice(0, 64);
      const heldOutPerClass = heldOut.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0));
      expect(heldOutPerClass).toEqual(heldOutPerClass.map((_: number, c: number) => firstHeldOut.filter((i) => train.labels[i] === c).length));
      const firstPerClass = heldOutPerClass.map((_: number, c: number) => train.labels.subarray(0, 64).filter((l) => l === c).length);
      expect(heldOutPerClass).not.toEqual(firstPerClass); // not simply the training split's first 64
      // Misclassified held-out images are numbered in the training split, and none is one the run trained on.
      expect(heldOut.misclassified.length).toBeGreaterThan(0);
      expect(heldOut.misclassified.every((i: number) => firstHeldOut.includes(i))).toBe(true);
    });
  });

  it('stops a run as a terminal user or the system does: Ctrl-C (SIGINT to the group), a reader that goes away, SIGTERM, SIGHUP', async () => {
    const tiny = ['train', '--model', 'shapes-odenet', '--dataset', 'shapes', '--method', 'euler', '--step-size', '0.5',
      '--batch-size', '50', '--train-size', '300', '--epochs', '3', '--json'];
    // Its own process group, as a terminal's foreground job: Ctrl-C reaches the CLI and its training process.
    const cli = spawn(process.execPath, ['bin/odelab.js', ...tiny], { env: odelabEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    const lines: Record<string, unknown>[] = [];
    for await (const line of createInterface({ input: cli.stdout })) {
      lines.push(JSON.parse(line));
      if (lines.at(-1)!.event === 'batch' && lines.at(-1)!.step === 2) process.kill(-cli.pid!, 'SIGINT');
    }
    expect(await exited).toBe(130);
    expect(lines.at(-1)).toMatchObject({ event: 'ended', status: 'cancelled' });
    expect(lines.at(-1)!.step as number).toBeLessThanOrEqual(3); // after the batch in progress, not the epoch

    // Stopped by the system (kill, `timeout`, a closed terminal: SIGTERM or SIGHUP): the training process is killed
    // at once and the run recorded cancelled now, not left 'running' for the next open to find.
    // Batches of ~2 s (20 Euler steps of 150 images): a kill lands inside the second one, where a cancel would finish it.
    const slowBatches = tiny.map((a, i) => (tiny[i - 1] === '--step-size' ? '0.05' : tiny[i - 1] === '--batch-size' ? '150' : a));
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const stopped = spawn(process.execPath, ['bin/odelab.js', ...slowBatches], { env: odelabEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const stoppedExit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => stopped.on('exit', (c, s) => resolve([c, s])));
      const events: { event: string; runId: number; step?: number }[] = [];
      for await (const line of createInterface({ input: stopped.stdout })) {
        const e = JSON.parse(line) as (typeof events)[number];
        events.push(e);
        // SIGHUP as a closing terminal sends it, to the whole group; SIGTERM as `kill` does, to the CLI alone.
        if (e.event === 'batch' && e.step === 1) process.kill(signal === 'SIGHUP' ? -stopped.pid! : stopped.pid!, signal);
      }
      const runId = events[0].runId;
      // At once: the training process killed mid-batch, not after the batch (cancel's way), so no batch after the first.
      expect(events.at(-1)).toMatchObject({ event: 'ended', status: 'cancelled', step: 1 });
      // It dies of the signal once the run is recorded (a shell sees 128 + n), as an unhandled one would.
      expect(await stoppedExit).toEqual([null, signal]);
      const shown = JSON.parse(odelab('runs', 'show', String(runId), '--json').stdout) as { status: string; error: unknown };
      expect(shown).toMatchObject({ status: 'cancelled', error: null });
    }

    // `| head -1`: the run is cancelled and recorded so, the CLI exits 130 without an EPIPE stack trace. Run from
    // another folder, as an installed `odelab` is: the training process must find its loader from there too.
    const bin = join(process.cwd(), 'bin/odelab.js');
    const piped = spawnSync('bash', ['-c', `node ${bin} ${tiny.join(' ')} | head -1 > /dev/null; exit \${PIPESTATUS[0]}`], {
      encoding: 'utf8',
      env: odelabEnv,
      cwd: tempDir(),
    });
    expect(piped.stderr).toBe('');
    expect(piped.status).toBe(130);
    const runs = JSON.parse(odelab('runs', 'list', '--json').stdout) as { status: string }[];
    expect(runs[0].status).toBe('cancelled'); // the newest first
  });

  it('exits 1 and says why when a run diverges', () => {
    const { code, stdout } = odelab(
      'train', '--model', 'mlp', '--dataset', 'shapes', '--train-size', '200', '--optimizer', 'sgd', '--lr', '1e12',
      '--epochs', '3', '--out', join(tempDir(), 'run'), '--json',
    );
    expect(code).toBe(1);
    const ended = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(ended).toMatchObject({ event: 'ended', status: 'diverged', error: { code: 'NON_FINITE' } });
  });
});
