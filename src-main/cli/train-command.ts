/** `odelab train`: validate the config, run it in a training process, report its events. */
import { Command, Option } from 'commander';
import { join } from 'node:path';
import { PRESETS } from '../../src-shared/presets';
import { MODEL_NAMES } from '../../src-shared/run-config';
import { METHOD_NAMES } from '../../src-shared/solvers';
import { Runner } from '../lab/runner';
import { defaultRunsDir } from './paths';
import { jsonLinesReporter, progressReporter } from './reporters';
import { runConfigFromFlags, type TrainFlags } from './run-config-from-flags';
import { EXIT } from './exit-codes';

const num = (v: string) => Number(v);
const int = (v: string) => Number.parseInt(v, 10);

export function trainCommand(): Command {
  return new Command('train')
    .description('train a model on a dataset (in its own process) and report every batch and epoch')
    .addOption(new Option('--preset <name>', 'start from a write-up preset').choices(Object.keys(PRESETS)))
    .option('--config <file.json>', 'RunConfig JSON (merged over the preset; flags win)')
    .addOption(new Option('--model <name>', 'model').choices([...MODEL_NAMES]))
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
    .option('--momentum <x>', 'SGD momentum', num)
    .option('--weight-decay <x>', 'weight decay', num)
    .option('--seed <n>', 'seed (initialisation, subset, shuffling)', int)
    .option('--train-size <n>', 'train on a stratified subset of this size', int)
    .option('--eval-every <n>', 'also evaluate on test images every n batches', int)
    .addOption(new Option('--normalisation <mode>', 'pixel scaling').choices(['unit', 'symmetric']))
    .option('--name <text>', 'run name')
    .option('--out <dir>', 'run directory (events.jsonl, checkpoints/)')
    .option('--data-dir <dir>', 'dataset directory')
    .option('--resume <checkpoint>', 'continue from a checkpoint file')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['tensorflow', 'wasm', 'cpu']))
    .option('--workers <n>', 'gradient worker threads per training step (data parallel; default 1)', int)
    .option('--json', 'print one JSON object per event (the default when stdout is not a TTY)')
    .action(async (opts: TrainFlags & { out?: string; dataDir?: string; resume?: string; backend?: 'wasm'; json?: boolean; workers?: number }) => {
      const config = runConfigFromFlags(opts);
      const outDir = opts.out ?? join(defaultRunsDir(), `${new Date().toISOString().replace(/[:.]/g, '-')}-${config.name ?? config.model.name}`);
      const report = opts.json || !process.stdout.isTTY ? jsonLinesReporter() : progressReporter();
      const runner = new Runner();
      const run = runner.enqueue({ config, outDir, dataDir: opts.dataDir, backend: opts.backend, resumeFrom: opts.resume, workers: opts.workers });
      run.events.on('event', report);
      let interrupts = 0;
      const onSigint = () => {
        // First Ctrl-C: stop after the current batch. Second: kill the process.
        if (++interrupts === 1) run.cancel();
        else run.process?.kill('SIGKILL');
      };
      process.on('SIGINT', onSigint);
      const ended = await run.done;
      process.off('SIGINT', onSigint);
      process.exitCode =
        ended.status === 'completed' ? EXIT.OK : ended.status === 'cancelled' ? EXIT.CANCELLED : EXIT.FAILED;
    });
}
