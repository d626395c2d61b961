/**
 * `odelab models | solvers | presets | eval`: what the lab offers, and how a checkpoint scores. The engine (tfjs,
 * about half a second to load) is imported by the commands that compute, not by every `odelab` invocation.
 */
import { Command, Option } from 'commander';
import { PRESETS } from '../../src-shared/presets';
import { DEFAULT_BLOCKS, hasBlocks, ModelSpec, usesSolverSpec, type RunConfig } from '../../src-shared/run-config';
import type { SolverSpec } from '../../src-shared/config';
import { METHOD_NAMES, SOLVERS } from '../../src-shared/solvers';
import { decodeCheckpoint, type Checkpoint } from '../engine/train/checkpoint';
import { readCheckpointFile } from './file-arguments';
import type { CheckpointEvaluation, SplitName, WeightsName } from '../engine/train/evaluate-checkpoint';
import type { BackendName } from '../engine/backend';
import { loadDataset } from '../data/load';
import { LabError } from '../../src-shared/errors';
import { loadCheckpoint } from '../store';
import { dbOption, withStore } from './store-options';
import { int, num, positiveInt } from './option-parsers';
import { runConfigFromFlags, type TrainFlags } from './run-config-from-flags';
import { SOLVER_FLAGS } from './model-flags';
import { printJson } from './json-output';
import { scoringBar } from './reporters';
import { EXIT } from './exit-codes';
import { checkWorkerMemory } from '../engine/parallel/worker-memory';

function print(json: boolean, value: unknown, text: () => string): void {
  if (json) printJson(value);
  else process.stdout.write(text() + '\n');
}

export function modelsCommand(): Command {
  return new Command('models')
    .description(
      `list the models with their parameter counts (28×28 images; 10 classes, shapes-odenet 7 as the shapes presets; resnet and rknet at --blocks ${DEFAULT_BLOCKS})`,
    )
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const [{ initEngine, tf }, { MODELS, parameterCount }] = await Promise.all([import('../engine'), import('../engine/models')]);
      await initEngine();
      // Counted with the classes of the dataset a model is written for (the shapes model's presets: 7), as a user
      // trains it; the head's size depends on them.
      const count = (m: (typeof MODELS)[number], classes: number) => {
        const model = m.build(ModelSpec.parse({ name: m.name }), { classes, imageShape: [28, 28, 1], seed: 0 });
        const parameters = parameterCount(model);
        tf.dispose(model.params);
        return { classes, parameters };
      };
      const rows = MODELS.map((m) => {
        const [usual, ...others] = (m.classes ?? [10]).map((classes) => count(m, classes));
        // blocks: what --blocks sets (resnet's residual blocks, rknet's RK4 steps) and its default; null: not taken.
        const blocks = hasBlocks(m.name) ? DEFAULT_BLOCKS : null;
        return { name: m.name, parameters: usual.parameters, classes: usual.classes, otherClasses: others, blocks, description: m.description };
      });
      print(!!opts.json, rows, () =>
        rows
          .map((r) => {
            const others = r.otherClasses.map((o) => `${o.parameters} for ${o.classes}`).join(', ');
            const classes = r.classes === 10 && !others ? '' : ` Counted for ${r.classes} classes${others && ` (${others})`}.`;
            const blocks = r.blocks === null ? '' : ` --blocks <n> sets N (default ${r.blocks}).`;
            return `${r.name.padEnd(18)} ${String(r.parameters).padStart(8)}  ${r.description}${classes}${blocks}`;
          })
          .join('\n'),
      );
    });
}

export function solversCommand(): Command {
  return new Command('solvers')
    .description('list the ODE solvers (order, kind, adaptive, default step size or rtol = atol)')
    .option('--json', 'JSON output')
    .action((opts: { json?: boolean }) =>
      print(!!opts.json, SOLVERS, () =>
        SOLVERS.map(
          (s) =>
            `${s.name.padEnd(18)} order ${s.order}  ${s.kind.padEnd(8)} ${s.adaptive ? 'adaptive' : 'fixed   '}  ` +
            `${('stepSize' in s.defaults ? `step ${s.defaults.stepSize}` : `tol ${s.defaults.rtol}`).padEnd(10)}  ${s.description}`,
        ).join('\n'),
      ),
    );
}

export function presetsCommand(): Command {
  return new Command('presets')
    .description('list the write-up presets')
    .option('--json', 'JSON output')
    .action((opts: { json?: boolean }) =>
      print(!!opts.json, PRESETS, () =>
        Object.entries(PRESETS)
          .map(([name, p]) => `${name.padEnd(24)} ${p.description}`)
          .join('\n'),
      ),
    );
}

/** The checkpoint to evaluate: a file, or a run's checkpoint in the run store (its latest, or `--epoch`). */
async function checkpointToEvaluate(opts: EvalOptions): Promise<{ bytes: Uint8Array; checkpoint: Checkpoint; label: string }> {
  if (opts.checkpoint && opts.run === undefined) {
    if (opts.epoch !== undefined) {
      throw new LabError('INVALID_ARGUMENT', '--epoch picks a checkpoint of --run <id>; a --checkpoint file is one epoch already', { field: 'epoch' });
    }
    if (opts.db !== undefined) {
      throw new LabError('INVALID_ARGUMENT', '--db names the run store of --run <id>; a --checkpoint file is read without one', { field: 'db' });
    }
    return { ...(await readCheckpointFile(opts.checkpoint, '--checkpoint')), label: opts.checkpoint };
  }
  if (opts.run !== undefined && !opts.checkpoint) {
    const c = await withStore(opts.db, (store) => loadCheckpoint(store.db, opts.run!, opts.epoch), true);
    const label = `run ${opts.run}, epoch ${c.epoch}`;
    return { bytes: c.data, checkpoint: decodeCheckpoint(c.data, label), label };
  }
  throw new LabError('INVALID_ARGUMENT', 'give either --checkpoint <file> or --run <id>', { field: 'checkpoint' });
}

/** `odelab train`'s flags for the model's ODE block that `eval` takes too (the gradient's mean nothing there). */
export type SolverFlags = Pick<TrainFlags, 'method' | 'stepSize' | 'rtol' | 'atol' | 'maxSteps'>;

/**
 * eval's refusal of its solver flags, from runConfigFromFlags' (train's): said of eval, the checkpoint and the flags
 * typed, each reason naming the flag rather than the config field (`--step-size`, not `model.solver.stepSize`).
 */
function evalSolverRefusal(e: LabError, flags: SolverFlags, given: (keyof SolverFlags)[], name: string): LabError {
  const issues = e.details.issues as { path: string[]; message: string }[] | undefined;
  const flagOf = (key: string) => (Object.hasOwn(SOLVER_FLAGS, key) ? SOLVER_FLAGS[key as keyof SolverFlags] : undefined);
  // The schema's words for the settings, as the flags that set them; a field no flag sets (the run's own config) stays.
  const inFlagTerms = (text: string) => text.replace(/\b(stepSize|maxSteps|rtol|atol)\b/g, (key) => flagOf(key)!);
  const typedFlags = given.map((k) => SOLVER_FLAGS[k]);
  const refusals = issues
    ? issues.map(({ path, message }) => {
        const text = inFlagTerms(message);
        let flag = path.length === 3 && path[0] === 'model' && path[1] === 'solver' ? flagOf(path[2]) : undefined;
        // The run's maxSteps refusing a typed --step-size: the flag typed is the one to name.
        if (flag && !typedFlags.includes(flag)) flag = typedFlags.find((f) => text.includes(f)) ?? flag;
        const label = flag ?? path.join('.');
        return { field: label.replace(/^--/, ''), line: text.startsWith(`${label} `) ? text : `${label}: ${text}` };
      })
    : [{ field: e.details.field, line: e.reason }]; // checkFlagsApply's, which names the flag already
  const typed = given.map((k) => `${SOLVER_FLAGS[k]} ${String(flags[k])}`).join(' ');
  const lines = refusals.map((r) => r.line).join('\n');
  return new LabError(e.code, `eval: cannot score ${name} with ${typed}:\n${lines}`, { ...e.details, field: refusals[0].field });
}

/**
 * The solver `eval` scores a checkpoint with: its run's (undefined) unless solver flags are given. Without --method
 * they change the run's solver; --method starts from that method as the catalogue has it (its default step size or
 * tolerances), keeping the run's other settings (maxSteps, the step-size controller, the implicit solve's). Checked
 * as `odelab train` checks them (runConfigFromFlags over the run's config), but refused in eval's words
 * (evalSolverRefusal): tolerances with a fixed-step method, a step size with an adaptive one, a step needing more
 * than maxSteps steps. Refused for a model whose ODE block does not follow a solver spec (mlp and resnet have none;
 * rknet's RK4 steps are its layers).
 */
export function scoringSolverFromFlags(flags: SolverFlags, config: RunConfig, name: string): SolverSpec | undefined {
  const given = (Object.keys(SOLVER_FLAGS) as (keyof SolverFlags)[]).filter((k) => flags[k] !== undefined);
  if (given.length === 0) return undefined;
  const model = config.model.name;
  if (!usesSolverSpec(model)) {
    const flag = SOLVER_FLAGS[given[0]];
    const why = model === 'rknet' ? `its RK4 steps are its layers (model.blocks: ${config.model.blocks})` : 'it has no ODE block';
    throw new LabError('INVALID_ARGUMENT', `${flag}: ${name} holds a '${model}' model and ${why}: there is no solver to score it with`, {
      field: flag.replace(/^--/, ''),
    });
  }
  const { method, stepSize, rtol, atol, maxSteps } = flags;
  // Over the run's solver, as `train --resume` applies them: --method keeps the run's step for another fixed-step
  // method (and its tolerances for another adaptive one); switching kind takes the new method's defaults.
  try {
    return runConfigFromFlags({ method, stepSize, rtol, atol, maxSteps }, config).model.solver;
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    throw evalSolverRefusal(e, flags, given, name);
  }
}

/** A solver as eval's output names it: method, step or tolerances, and the settings in which `other` differs. */
function describeSolver(settings: Record<string, string | number>, other: Record<string, string | number>): string {
  const { method, stepSize, rtol, atol } = settings;
  const parts = [String(method), stepSize !== undefined ? `step ${stepSize}` : `rtol ${rtol} atol ${atol}`];
  for (const [key, value] of Object.entries(settings)) {
    if (!['method', 'stepSize', 'rtol', 'atol'].includes(key) && key in other && other[key] !== value) parts.push(`${key} ${value}`);
  }
  return parts.join(' ');
}

interface EvalOptions extends SolverFlags {
  checkpoint?: string;
  run?: number;
  epoch?: number;
  db?: string;
  dataDir?: string;
  backend?: BackendName;
  workers?: number;
  split: SplitName;
  limit?: number;
  batchSize?: number;
  weights?: WeightsName;
  json?: boolean;
}

/** The text output's second line when another solver than the run's scored it: both, as each solves a forward pass. */
function solverLine(result: CheckpointEvaluation, forwardSettings: (spec: SolverSpec) => Record<string, string | number>): string {
  if (!result.solver || !result.trainedSolver) return '';
  const [scored, trained] = [forwardSettings(result.solver), forwardSettings(result.trainedSolver)];
  return `\nsolver: ${describeSolver(scored, trained)} (trained with ${describeSolver(trained, scored)})`;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a checkpoint on its dataset's test split (or its training split, or the images a --train-size run held out)")
    .option('--checkpoint <file>', 'checkpoint file (checkpoints/epoch-NNN.ckpt of a run folder)')
    .option('--run <id>', "a run in the run store (its latest checkpoint, or --epoch's)", positiveInt)
    .option('--epoch <n>', "with --run: that epoch's checkpoint", positiveInt)
    .addOption(dbOption())
    .option('--data-dir <dir>', 'dataset directory')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['tensorflow', 'wasm', 'cpu']))
    .option('--workers <n>', 'worker threads sharing each batch (data parallel; default 1)', positiveInt)
    .addOption(
      new Option(
        '--split <name>',
        "the split to score: train is every training image of the run's dataset, not only its --train-size subset; " +
          'held-out is the training images a --train-size run did not train on (validation data)',
      )
        .choices(['test', 'train', 'held-out'])
        .default('test'),
    )
    .option('--limit <n>', "only the split's first n images", positiveInt)
    .option('--batch-size <n>', "images per forward pass (default: the run's batch size, at least 500)", positiveInt)
    .addOption(
      new Option(
        '--weights <which>',
        'averaged (the default when the run averaged its weights, --ema-decay) or trained (what the optimiser reached)',
      ).choices(['averaged', 'trained']),
    )
    // As `odelab train` has them, and checked as it checks them.
    .addOption(new Option('--method <name>', "ODE solver to score with instead of the run's (its default step or tolerances)").choices([...METHOD_NAMES]))
    .option('--step-size <h>', 'step size (fixed-step methods)', num)
    .option('--rtol <x>', 'relative tolerance (adaptive methods)', num)
    .option('--atol <x>', 'absolute tolerance (adaptive methods)', num)
    .option('--max-steps <n>', 'solver step limit per solve', int)
    .option('--json', 'JSON output: one JSON document (progress as JSON lines on stderr)')
    .action(async (opts: EvalOptions) => {
      // Ctrl-C: stop before the next batch (CANCELLED, exit 130) with the bar cleared and the cursor shown again
      // (a bar hides it); a second one exits at once. From the start: the engine's imports alone take a second.
      const controller = new AbortController();
      let bar: ReturnType<typeof scoringBar> | undefined;
      const onSigint = () => {
        if (controller.signal.aborted) {
          bar?.stop();
          process.exit(EXIT.CANCELLED);
        }
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        if (opts.workers !== undefined) checkWorkerMemory(opts.workers);
        const { bytes, checkpoint, label } = await checkpointToEvaluate(opts);
        // Solver flags checked as train checks them, before the engine loads.
        const solver = scoringSolverFromFlags(opts, checkpoint.config, label);
        const [{ initEngine }, { checkEvaluationRequest, evaluateCheckpoint, forwardSettings }] = await Promise.all([
          import('../engine'),
          import('../engine/train/evaluate-checkpoint'),
        ]);
        // Refuse what the checkpoint alone rules out before loading its dataset (seconds for the IDX datasets).
        checkEvaluationRequest(checkpoint, { name: label, split: opts.split, weights: opts.weights, solver });
        const { config } = checkpoint;
        await initEngine({ backend: opts.backend });
        const dataset = await loadDataset(config.dataset, { dataDir: opts.dataDir });
        bar = !opts.json && process.stderr.isTTY ? scoringBar() : undefined;
        const result = await evaluateCheckpoint(bytes, dataset, {
          name: label,
          workers: opts.workers,
          backend: opts.backend,
          split: opts.split,
          limit: opts.limit,
          batchSize: opts.batchSize,
          weights: opts.weights,
          solver,
          // --json: how far it has got, as JSON lines on stderr (as datasets fetch and generate give theirs).
          onProgress: opts.json ? (done, total) => process.stderr.write(JSON.stringify({ phase: 'score', done, total }) + '\n') : bar?.update,
          signal: controller.signal,
        });
        bar?.stop();
        // Scored all the same (it can be deliberate), but never silently: also in the JSON, as `warnings`.
        for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
        const { confusion, misclassified, ...summary } = result;
        print(!!opts.json, { checkpoint: label, ...summary, confusion, misclassified }, () =>
          // A run's label names its epoch already.
          `${opts.checkpoint ? `${label}: epoch ${result.epoch}` : label} (${result.weights} weights): ${opts.split} loss ${result.loss.toFixed(4)}, ` +
          `accuracy ${(100 * result.accuracy).toFixed(2)}% ` +
          `on ${result.count} images, NFE ${result.nfeForwardMean.toFixed(1)} per batch` +
          solverLine(result, forwardSettings),
        );
      } finally {
        bar?.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
