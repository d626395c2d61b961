/** `odelab train`: validate the config, run it in a training process recorded in the run store, report its events. */
import { Command, Option } from 'commander';
import { constants } from 'node:os';
import { PRESETS } from '../../src-shared/presets';
import { MODEL_NAMES } from '../../src-shared/run-config';
import { METHOD_NAMES } from '../../src-shared/solvers';
import { checkStartRequest, DEFAULT_RESUME_POINT_MINUTES, type LabService, type RecordedRun, type StartOptions } from '../lab/lab-service';
import { jsonLinesReporter, progressReporter } from './reporters';
import { runConfigFromFlags, type TrainFlags } from './run-config-from-flags';
import { EXIT } from './exit-codes';
import { epochList, int, names, nonEmpty, nonNegativeNum, num, positiveInt } from './option-parsers';
import { dbOption, withService } from './store-options';
import { readCheckpointFile } from './file-arguments';
import { NOT_SWEPT, checkNotGivenPlainly, combinationLabel, expandGrid, flagsWith, parseSweeps, sweepGrid, sweepRefusal } from './sweep';
import { LabError } from '../../src-shared/errors';
import { runName, type RunConfig } from '../../src-shared/run-config';
import { onBrokenPipe } from './broken-pipe';
import { progressPrinter } from './data-progress';
import { cancelNote } from './cancel-note';
import { addRunsToStudy, addToStudy, studyForSweep, studyRunConfigs } from '../store';
import { combinationStep, stepNote, sweepSteps } from './sweep-continue';
import type { EndedEvent, RunEvent } from '../../src-shared/run-events';

export interface LaunchFlags {
  dataDir?: string;
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  workers?: number;
  out?: string;
  json?: boolean;
  checkpointEvery?: number;
}

/** Adds the flags every command that launches a training process shares (train, runs resume). */
export function launchOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'dataset directory')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['tensorflow', 'wasm', 'cpu']))
    .option('--workers <n>', 'gradient worker threads per training step and evaluation (data parallel; default 1)', positiveInt)
    .option('--out <dir>', 'also keep the run as files here (events.jsonl, checkpoints/epoch-NNN.ckpt, checkpoints/resume.ckpt)')
    .option(
      '--checkpoint-every <minutes>',
      `also save a resume point (a checkpoint inside the epoch) every this many minutes of training (default ${DEFAULT_RESUME_POINT_MINUTES}; 0: only at epoch ends and on Ctrl-C)`,
      nonNegativeNum,
    )
    .option('--json', 'print one JSON object per event (the default when stdout is not a TTY)');
}

/** Reports a recorded run's events until it ends; Ctrl-C cancels (twice: kills). Sets the exit code; returns the end. */
export async function followRun(run: RecordedRun, flags: LaunchFlags, dbPath: string): Promise<EndedEvent> {
  const tty = !flags.json && process.stdout.isTTY;
  const report = tty ? progressReporter() : jsonLinesReporter({ runId: run.runId });
  if (tty) process.stdout.write(`run ${run.runId} in ${dbPath}\n`);
  const cancelled = cancelNote(run.runId, dbPath, run.handle.request.startAt);
  run.handle.events.on('event', cancelled.event);
  for (const warning of run.warnings) process.stderr.write(`warning: ${warning}\n`);
  // Every event as it comes but the end, which is reported as the store recorded it (below).
  const reportEvent = (e: RunEvent) => e.event !== 'ended' && report.event(e);
  run.handle.events.on('event', reportEvent);
  if (report.testing) run.handle.events.on('testing', report.testing);
  run.handle.events.on('store-error', (e: Error) => process.stderr.write(`the run store could not be written: ${e.message}; stopping the run\n`));
  run.handle.events.on('folder-error', (problem: string) => process.stderr.write(`warning: the run's folder: ${problem}\n`));
  run.handle.events.on('store-busy', (patienceMs: number) =>
    process.stderr.write(`the run store is locked by another process; its records wait (up to ${patienceMs / 1000} s) while training goes on\n`),
  );
  // The dataset's loading: a copy skipped (and why) or a download is worth a line; generation is quick.
  run.handle.events.on('progress', progressPrinter(!!flags.json, ['skip', 'download']));
  run.handle.events.on('cancel-requested', (mode: string) =>
    process.stderr.write(`run ${run.runId}: cancelled from another process (odelab runs cancel); ${mode === 'now' ? 'killing its training process' : 'stopping after the current batch'}\n`),
  );
  let interrupts = 0;
  const onSigint = () => {
    // First Ctrl-C: stop after the current batch. Second: kill the process.
    if (++interrupts === 1) run.handle.cancel();
    else run.handle.kill();
  };
  process.on('SIGINT', onSigint);
  // Stopped by the system (kill, a closed terminal, `timeout`, a service manager), which will not wait for a batch:
  // kill the training process, so the run is recorded cancelled now, and exit as that signal would (128 + n).
  let terminatedBy: NodeJS.Signals | undefined;
  const onTerminate = (signal: NodeJS.Signals) => {
    terminatedBy = signal;
    run.handle.kill();
  };
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);
  process.on('SIGBREAK', onTerminate); // Ctrl-Break, Windows only
  // Nobody reads the events any more (`| head`): stop reporting and cancel the run, which the store records.
  let readerGone = false;
  const offBrokenPipe = onBrokenPipe(() => {
    readerGone = true;
    run.handle.events.off('event', reportEvent);
    if (report.testing) run.handle.events.off('testing', report.testing);
    run.handle.cancel();
  });
  const ended = await run.ended;
  if (!readerGone) report.event(ended);
  if (tty && !readerGone && ended.status === 'cancelled') process.stdout.write(cancelled.note() + '\n');
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onTerminate);
  process.off('SIGHUP', onTerminate);
  process.off('SIGBREAK', onTerminate);
  offBrokenPipe();
  process.exitCode = ended.status === 'completed' ? EXIT.OK : ended.status === 'cancelled' ? EXIT.CANCELLED : EXIT.FAILED;
  // Stopped by a signal: once all is written and closed, die of it as an unhandled one would, so a caller sees the
  // signal (a shell: 128 + n). A run that completed as SIGTERM came is a completed run (exit 0); after SIGHUP the
  // terminal is gone, and a normal exit would have Node reset it, which aborts. Windows cannot send itself these.
  if (terminatedBy && (ended.status !== 'completed' || terminatedBy === 'SIGHUP')) {
    const signal = terminatedBy;
    if (process.platform === 'win32') process.exitCode = 128 + constants.signals[signal];
    else {
      process.once('beforeExit', () => {
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      });
    }
  }
  return ended;
}

type TrainOptions = TrainFlags & LaunchFlags & { resume?: string; tag?: string[]; notes?: string; study?: string; db?: string; sweep?: string[] };

/**
 * A sweep's runs, each combination's config built by runConfigFromFlags as if its flags had been given plainly and
 * checked as a single run's is (checkStartRequest): all of them before any starts, and one refused refuses the
 * sweep, naming each refused combination (sweepRefusal).
 */
function planSweep(cmd: Command, opts: TrainOptions, base: RunConfig | undefined, start: StartOptions) {
  const refuse = (field: string, message: string) => new LabError('INVALID_ARGUMENT', message, { field });
  if (opts.study === undefined) throw refuse('study', '--sweep needs --study <name>: the study records the grid and holds its runs');
  if (opts.out !== undefined) {
    throw refuse('out', '--out cannot be used with --sweep: each run would need a folder of its own, and there is no naming scheme for them');
  }
  const axes = parseSweeps(opts.sweep ?? [], cmd.options);
  checkNotGivenPlainly(axes, opts);
  const refused: { label: string; error: LabError }[] = [];
  const runs = expandGrid(axes).flatMap((combo) => {
    const label = combinationLabel(combo);
    try {
      const flags = flagsWith(opts, combo);
      // Named as the single run would be (--name, the preset's or config's, else the store's default), plus its
      // values; built again with that name so the schema checks it too (its length).
      const config = runConfigFromFlags({ ...flags, name: `${runName(runConfigFromFlags(flags, base))} ${label}` }, base);
      checkStartRequest(config, start);
      return [{ label, config }];
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      refused.push({ label, error: e });
      return [];
    }
  });
  if (refused.length > 0) throw sweepRefusal(refused, runs.length + refused.length);
  return { grid: sweepGrid(axes), runs };
}

/**
 * Runs a sweep's combinations one after another, each as `train` runs one; a cancelled run stops the sweep. Run
 * again on its study, the sweep continues (sweep-continue.ts): a combination whose run is done is skipped, one whose
 * run stopped is resumed in place, and the rest start.
 */
async function runSweep(service: LabService, plan: ReturnType<typeof planSweep>, opts: TrainOptions, start: StartOptions): Promise<void> {
  const { db } = service.store;
  const study = opts.study!;
  const studyId = studyForSweep(db, study, plan.grid);
  // Up front: a combination refused (its run trained elsewhere, or made with other flags) refuses the sweep.
  const planned = sweepSteps(plan.runs, studyRunConfigs(db, studyId), study);
  const tty = !opts.json && process.stdout.isTTY;
  const launch = { dataDir: start.dataDir, backend: start.backend, workers: start.workers, resumePointMinutes: start.resumePointMinutes };
  const notCompleted: string[] = [];
  const before = { done: 0, resumed: 0 };
  for (const [i, { label, config }] of plan.runs.entries()) {
    const which = `run ${i + 1} of ${plan.runs.length}`;
    const step = combinationStep(plan.runs, i, studyRunConfigs(db, studyId), study);
    if (tty) process.stdout.write(`${which}: ${label}${stepNote(step)}\n`);
    const announce = (runId: number) =>
      !tty &&
      process.stdout.write(
        JSON.stringify({ event: 'combination', runId, combination: label, index: i + 1, of: plan.runs.length, ...step }) + '\n',
      );
    if (step.action === 'skip') {
      announce(step.runId);
      before.done++;
      if (step.status !== 'completed') notCompleted.push(`run ${step.runId} (${label}) ${step.status}`);
      continue;
    }
    if (step.action === 'resume') before.resumed++;
    const run = step.action === 'resume' ? service.resumeRun(step.runId, launch) : service.startRun(config, start);
    if (step.action === 'start') addRunsToStudy(db, studyId, [run.runId]);
    announce(run.runId);
    const ended = await followRun(run, opts, service.store.path);
    if (ended.status === 'cancelled') {
      const notStarted = planned.slice(i + 1).filter((s) => s.action !== 'skip').length;
      process.stderr.write(
        `sweep stopped: ${which} (${label}, run ${run.runId}) was cancelled; ${notStarted} combination${notStarted === 1 ? '' : 's'} not started. ` +
          `Run the same command again to continue the sweep (run ${run.runId} resumes where it stopped; completed runs are skipped)\n`,
      );
      process.exitCode = EXIT.CANCELLED;
      return;
    }
    if (ended.status !== 'completed') notCompleted.push(`run ${run.runId} (${label}) ${ended.status}`);
  }
  process.exitCode = notCompleted.length > 0 ? EXIT.FAILED : EXIT.OK;
  const earlier = [...(before.done ? [`${before.done} done before`] : []), ...(before.resumed ? [`${before.resumed} resumed`] : [])];
  const summary =
    `sweep: ${plan.runs.length} runs in study '${study}'${earlier.length ? ` (${earlier.join(', ')})` : ''}` +
    `${notCompleted.length ? `; not completed: ${notCompleted.join(', ')}` : ', all completed'}\n`;
  if (tty) process.stdout.write(summary);
  else if (notCompleted.length) process.stderr.write(summary);
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train a model on a dataset (in its own process), record it in the run store and report every batch and epoch')
    .addOption(new Option('--preset <name>', 'start from a write-up preset').choices(Object.keys(PRESETS)))
    .option('--config <file.json>', 'RunConfig JSON (merged over the preset; flags win)')
    .addOption(new Option('--model <name>', 'model').choices([...MODEL_NAMES]))
    .option('--blocks <n>', 'resnet: residual blocks; rknet: RK4 steps over [0, 1] (default 6, at most 64; only these models)', positiveInt)
    .addOption(new Option('--init <scheme>', 'parameter initialisation (pytorch: U(±1/√fanIn); glorot: Flux.jl)').choices(['pytorch', 'glorot']))
    .addOption(new Option('--dataset <kind>', 'dataset').choices(['mnist', 'fashion-mnist', 'shapes']))
    .addOption(new Option('--shapes-mode <mode>', 'shapes dataset mode').choices(['single', 'compound']))
    .addOption(new Option('--method <name>', 'ODE solver').choices([...METHOD_NAMES]))
    .option('--rtol <x>', 'relative tolerance (adaptive methods)', num)
    .option('--atol <x>', 'absolute tolerance (adaptive methods)', num)
    .option('--step-size <h>', 'step size (fixed-step methods)', num)
    .addOption(new Option('--gradient <mode>', 'gradient strategy').choices(['direct', 'adjoint']))
    .option('--max-steps <n>', 'solver step limit per solve', int)
    .option('--epochs <n>', 'epochs', int)
    .option('--batch-size <n>', 'batch size', int)
    .option('--lr <x>', 'learning rate', num)
    .addOption(new Option('--optimizer <kind>', 'optimizer').choices(['sgd', 'adam', 'adamw']))
    .addOption(
      new Option('--lr-schedule <kind>', 'learning-rate schedule (cosine: annealed to 0 over the run; step: ×--lr-gamma after each of --lr-milestones)').choices([
        'constant',
        'cosine',
        'step',
      ]),
    )
    .option('--lr-milestones <epochs>', 'step schedule: the epochs after which the learning rate is multiplied by --lr-gamma, increasing (e.g. 60,100,140)', epochList)
    .option('--lr-gamma <x>', 'step schedule: the factor at each milestone, in (0, 1] (default 0.1)', num)
    .option('--momentum <x>', 'SGD momentum', num)
    .option('--weight-decay <x>', 'weight decay', num)
    .option('--ema-decay <d>', 'evaluate a moving average of the weights with this decay, in [0, 1) (0.99: about the last 100 updates; 0 = off)', num)
    .option('--seed <n>', 'seed (initialisation, subset, shuffling)', int)
    .option('--train-size <n>', 'train on a stratified subset of this size', int)
    .option('--test-size <n>', "score each epoch on a stratified subset of this many test images (seeded by --seed; default: the whole test split)", int)
    .option('--eval-every <n>', 'also evaluate on the first evalSize test images (1000; --config sets it; of the --test-size subset when set) every n batches', int)
    .addOption(new Option('--normalisation <mode>', 'pixel scaling').choices(['unit', 'symmetric']))
    .addOption(
      new Option('--augment <kind>', 'training batches only: crop = pad with black (--augment-padding, default 4) and crop a random window of the image size').choices([
        'none',
        'crop',
      ]),
    )
    .option('--augment-padding <px>', 'crop augmentation: black pixels added on each side before cropping (default 4)', positiveInt)
    .option('--name <text>', 'run name')
    .option('--tag <tag>', 'tag the run (repeatable)', names)
    .option('--notes <text>', 'notes kept with the run')
    .option('--study <name>', 'add the run to this study (created if new)', nonEmpty)
    .option('--resume <checkpoint>', "start a new run from a checkpoint file, with its run's config unless flags change it (raise --epochs to train on; `odelab runs resume <id>` continues a stored run)")
    .option(
      '--sweep <flag=v1,v2,...>',
      'run a grid: one run per combination of these values of a value flag (repeatable: the product, the last --sweep varying fastest), one after another, in --study',
      (v: string, all: string[] = []) => [...all, v],
    )
    .addOption(dbOption(true))
    .addHelpText(
      'after',
      `
Sweeps:
  odelab train --preset shapes-euler --sweep method=euler,implicit-euler --sweep step-size=0.1,0.05 --study solvers
  runs the 4 combinations one after another, each named '<name> method=… step-size=…', in study 'solvers', which
  records the grid (a study that exists must have been made by the same grid). Every combination is checked before
  any runs; one refused refuses the sweep. Swept values are read as the flag reads them. Ctrl-C cancels the current
  run and stops the sweep; the same command again continues it: a combination whose run completed (or diverged)
  is skipped, a stopped or failed run is resumed where it stopped, the rest start (a run made with other flags is
  refused, naming what differs). Exit 0 when every run completed, 1 if any failed or diverged, 130 when cancelled.
  Not sweepable: ${[...NOT_SWEPT].map((f) => `--${f}`).join(', ')}.`,
    );
  return launchOptions(cmd).action(
    async (opts: TrainOptions) => {
      // From a checkpoint, its run's config is the starting point: flags change it (--epochs to train on).
      const resume = opts.resume ? await readCheckpointFile(opts.resume, '--resume') : undefined;
      const start: StartOptions = {
        dataDir: opts.dataDir,
        backend: opts.backend,
        workers: opts.workers,
        outDir: opts.out,
        resumePointMinutes: opts.checkpointEvery,
        resumeFrom: resume?.bytes,
        resumeFile: opts.resume,
        tags: opts.tag,
        notes: opts.notes,
      };
      if (opts.sweep) {
        // Every combination before the store is opened: a refused sweep must not leave a new, empty store behind.
        const plan = planSweep(cmd, opts, resume?.checkpoint.config, start);
        await withService(opts.db, (service: LabService) => runSweep(service, plan, opts, start));
        return;
      }
      const config = runConfigFromFlags(opts, resume?.checkpoint.config);
      // Before the store is opened: a refused run must not leave a new, empty store behind.
      checkStartRequest(config, start);
      await withService(opts.db, async (service: LabService) => {
        const run = service.startRun(config, start);
        if (opts.study) addToStudy(service.store.db, opts.study, [run.runId]);
        await followRun(run, opts, service.store.path);
      });
    },
  );
}
