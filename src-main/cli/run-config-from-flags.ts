/**
 * Builds a RunConfig from a preset, a JSON config file and command-line flags (later ones win), then validates
 * it with the shared zod schema so every error names its field.
 */
import { readFileSync } from 'node:fs';
import { fileProblem, textOf } from './file-arguments';
import { LabError } from '../../src-shared/errors';
import { describeIssues, isPlainObject } from '../../src-shared/config';
import { PRESETS } from '../../src-shared/presets';
import {
  DEFAULT_BLOCKS,
  droppedKeys,
  hasBlocks,
  misshapenFields,
  MODEL_NAMES,
  OptimizerSpec,
  ownSolver,
  RunConfig,
  usesSolverSpec,
  type ModelName,
} from '../../src-shared/run-config';
import { METHOD_NAMES, solverInfo, type MethodName } from '../../src-shared/solvers';
import { checkModelFlags } from './model-flags';

export interface TrainFlags {
  preset?: string;
  config?: string;
  model?: string;
  init?: string;
  blocks?: number;
  dataset?: string;
  shapesMode?: string;
  method?: string;
  rtol?: number;
  atol?: number;
  stepSize?: number;
  gradient?: string;
  maxSteps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: string;
  momentum?: number;
  lrSchedule?: 'constant' | 'cosine' | 'step';
  lrMilestones?: number[];
  lrGamma?: number;
  weightDecay?: number;
  seed?: number;
  trainSize?: number;
  testSize?: number;
  evalEvery?: number;
  emaDecay?: number;
  normalisation?: string;
  augment?: string;
  augmentPadding?: number;
  name?: string;
}

type Json = Record<string, unknown>;

/**
 * Deep merge of plain objects; arrays and scalars in `over` replace those in `base`. Own keys only, each defined as
 * data: a '__proto__' key (JSON.parse makes it an ordinary key) stays a key, for droppedKeys to report, and never
 * becomes the result's prototype.
 */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const prev = Object.hasOwn(out, k) ? out[k] : undefined;
    const value = isPlainObject(v) && isPlainObject(prev) ? deepMerge(prev, v) : v;
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A JSON value as an error message shows it: strings quoted (and cut short), arrays by kind. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return JSON.stringify(value);
}

function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = textOf(readFileSync(path));
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `--config: cannot read ${path}: ${fileProblem(e)}`, { field: 'config', path });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('expected a JSON object');
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `--config: ${path} is not a JSON object: ${(e as Error).message}`, { field: 'config', path });
  }
  // Before any merging: a string where the config has an object would be replaced by the flags' object (and its
  // defaults trained with), or be spread into characters.
  const misshapen = misshapenFields(parsed);
  if (misshapen.length > 0) {
    const lines = misshapen.map(({ path: field, found }) => `${field.join('.')}: expected an object, found ${describeValue(found)}`);
    throw new LabError('INVALID_ARGUMENT', `invalid run configuration:\n${lines.join('\n')}`, { field: misshapen[0].path.join('.'), path });
  }
  return parsed;
}

/** A plain-object field of `parent`, created if absent (the config's shape was checked: it is not anything else). */
function objectAt(parent: Json, key: string): Json {
  if (!isPlainObject(parent[key])) parent[key] = {};
  return parent[key] as Json;
}

function datasetFromFlags(f: TrainFlags): Json | undefined {
  if (f.dataset === undefined) return f.shapesMode ? { mode: f.shapesMode } : undefined;
  return f.dataset === 'shapes' ? { kind: 'shapes', ...(f.shapesMode ? { mode: f.shapesMode } : {}) } : { kind: f.dataset };
}

function solverFromFlags(f: TrainFlags): Json {
  return { method: f.method, rtol: f.rtol, atol: f.atol, stepSize: f.stepSize, gradient: f.gradient, maxSteps: f.maxSteps };
}

/** Flags that mean nothing with the rest of the config: refused rather than silently ignored. */
function checkFlagsApply(f: TrainFlags, config: RunConfig): void {
  const refuse = (flag: string, why: string) => {
    throw new LabError('INVALID_ARGUMENT', `${flag}: ${why}`, { field: flag.replace(/^--/, '') });
  };
  const { method } = config.model.solver;
  if (!solverInfo(method).adaptive && (f.rtol !== undefined || f.atol !== undefined)) {
    refuse(f.rtol !== undefined ? '--rtol' : '--atol', `'${method}' takes a fixed step (--step-size), not tolerances`);
  }
  if (f.shapesMode !== undefined && config.dataset.kind !== 'shapes') {
    refuse('--shapes-mode', `only the shapes dataset has modes; this run's dataset is ${config.dataset.kind}`);
  }
}

/**
 * What a model ignores, as it does: the solver of a model that does not follow model.solver (a preset's, a
 * checkpoint's or a --config file's) and the blocks of one without blocks, so the run's config, name and listing
 * do not show settings that changed nothing.
 */
function withoutIgnoredSettings(config: RunConfig): RunConfig {
  const { model } = config;
  const blocks = hasBlocks(model.name) ? model.blocks : DEFAULT_BLOCKS;
  const solver = usesSolverSpec(model.name) ? model.solver : ownSolver({ name: model.name, blocks });
  return { ...config, model: { ...model, blocks, solver } };
}

/**
 * `base`: a config to start from (the checkpoint's, for `train --resume`); the preset, the --config file and the
 * flags go over it in that order.
 */
export function runConfigFromFlags(f: TrainFlags, base?: RunConfig): RunConfig {
  if (f.preset !== undefined && !(f.preset in PRESETS)) {
    throw new LabError('INVALID_ARGUMENT', `--preset: unknown preset '${f.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  }
  // What the run inherits (a checkpoint's config, then the preset), and what the --config file sets itself.
  let inherited: Json = base ? (structuredClone(base) as Json) : {};
  if (f.preset) inherited = deepMerge(inherited, structuredClone(PRESETS[f.preset].config) as Json);
  const file: Json = f.config ? readConfigFile(f.config) : {};
  const fileModel = isPlainObject(file.model) ? file.model : {};
  const fileSolver = isPlainObject(fileModel.solver) ? fileModel.solver : {};
  // A method keeps the inherited solver settings that apply to it: a stepSize means nothing to an adaptive method,
  // tolerances nothing to a fixed-step one (so --method euler on the shapes-euler preset keeps its step 0.05). The
  // file's own settings stay, for the schema to judge.
  const method = f.method ?? fileSolver.method;
  if (f.method !== undefined && !METHOD_NAMES.includes(f.method as MethodName)) {
    throw new LabError('INVALID_ARGUMENT', `--method: unknown method '${f.method}'; expected one of ${METHOD_NAMES.join(', ')}`, { field: 'method' });
  }
  if (METHOD_NAMES.includes(method as MethodName)) {
    const solver = objectAt(objectAt(inherited, 'model'), 'solver');
    const { stepSize, rtol, atol, ...kept } = solver;
    objectAt(inherited, 'model').solver = solverInfo(method as MethodName).adaptive ? { ...kept, rtol, atol } : { ...kept, stepSize };
  }
  // Likewise another optimizer: an inherited momentum (mnist-odenet's SGD 0.9) means nothing to Adam. A momentum
  // the --config file sets is kept, and refused by the schema naming optimizer.momentum; the --momentum flag is
  // refused here, before the schema's field-path message could name the config instead of the flag.
  const fileOptimizer = isPlainObject(file.optimizer) ? file.optimizer : {};
  const inheritedOptimizer = isPlainObject(inherited.optimizer) ? inherited.optimizer : {};
  const kind = f.optimizer ?? fileOptimizer.kind ?? inheritedOptimizer.kind ?? OptimizerSpec.parse({}).kind;
  if (kind !== 'sgd') delete inheritedOptimizer.momentum;
  if (f.momentum !== undefined && kind !== 'sgd') {
    throw new LabError('INVALID_ARGUMENT', `--momentum: only SGD uses momentum; this run's optimizer is ${String(kind)}`, { field: 'momentum' });
  }
  // Likewise another schedule: inherited milestones and gamma mean nothing to cosine (the file's are the schema's
  // to refuse, the flags' are refused here naming them).
  const schedule = f.lrSchedule ?? fileOptimizer.schedule ?? inheritedOptimizer.schedule ?? 'constant';
  if (schedule !== 'step') {
    delete inheritedOptimizer.milestones;
    delete inheritedOptimizer.gamma;
  }
  for (const [flag, given] of [['--lr-milestones', f.lrMilestones], ['--lr-gamma', f.lrGamma]] as const) {
    if (given !== undefined && schedule !== 'step') {
      throw new LabError('INVALID_ARGUMENT', `${flag}: only --lr-schedule step uses it; this run's schedule is ${String(schedule)}`, { field: flag.slice(2) });
    }
  }
  const milestones = f.lrMilestones ?? fileOptimizer.milestones ?? inheritedOptimizer.milestones;
  if (f.lrSchedule === 'step' && (!Array.isArray(milestones) || milestones.length === 0)) {
    throw new LabError('INVALID_ARGUMENT', '--lr-schedule: step needs --lr-milestones <epochs>, the epochs after which the learning rate is multiplied by --lr-gamma (default 0.1), e.g. --lr-milestones 60,100,140', {
      field: 'lr-schedule',
    });
  }
  // And without crop augmentation, an inherited padding is nothing to pad.
  const augment = f.augment ?? file.augment ?? inherited.augment ?? 'none';
  if (augment !== 'crop') delete inherited.augmentPadding;
  if (f.augmentPadding !== undefined && augment !== 'crop') {
    throw new LabError('INVALID_ARGUMENT', `--augment-padding: only --augment crop pads; this run's augment is ${String(augment)}`, { field: 'augment-padding' });
  }
  // Likewise another dataset: the inherited shapes generator's settings mean nothing to MNIST (the file's are the
  // schema's to refuse).
  if (f.dataset !== undefined && isPlainObject(inherited.dataset) && inherited.dataset.kind !== f.dataset) delete inherited.dataset;
  const config = deepMerge(inherited, file);
  let name: string | undefined;
  if (f.name !== undefined) {
    // As --tag and --study: an empty name is a mistake (an unset shell variable), and spaces around one are not part of it.
    name = f.name.trim();
    if (name === '') throw new LabError('INVALID_ARGUMENT', '--name: expected a name, got an empty string', { field: 'name' });
  }
  const flags: Json = {
    name,
    model: { name: f.model, init: f.init, blocks: f.blocks, solver: solverFromFlags(f) },
    dataset: datasetFromFlags(f),
    optimizer: {
      kind: f.optimizer,
      lr: f.lr,
      schedule: f.lrSchedule,
      milestones: f.lrMilestones,
      gamma: f.lrGamma,
      momentum: f.momentum,
      weightDecay: f.weightDecay,
    },
    batchSize: f.batchSize,
    epochs: f.epochs,
    seed: f.seed,
    trainSize: f.trainSize,
    testSize: f.testSize,
    evalEvery: f.evalEvery,
    emaDecay: f.emaDecay,
    normalisation: f.normalisation,
    augment: f.augment,
    augmentPadding: f.augmentPadding,
  };
  const merged = deepMerge(config, flags);
  // Before the schema: its refusal of a setting the model ignores (`--step-size -1` for mlp) would miss the point.
  const model = isPlainObject(merged.model) ? merged.model : {};
  if (MODEL_NAMES.includes(model.name as ModelName)) {
    checkModelFlags(f, model.name as ModelName, typeof model.blocks === 'number' ? model.blocks : DEFAULT_BLOCKS);
  }
  const parsed = RunConfig.safeParse(merged);
  if (!parsed.success) {
    // The issues structured too, for a command whose user typed other words than the config's (eval's flags).
    const issues = parsed.error.issues.map(({ path, message }) => ({ path: path.map(String), message }));
    throw new LabError('INVALID_ARGUMENT', `invalid run configuration:\n${describeIssues(parsed.error)}`, { field: issues[0]?.path.join('.'), issues });
  }
  checkFlagsApply(f, parsed.data);
  // Zod drops keys it does not know; a misspelt setting in --config would otherwise be silently ignored.
  const unknown = droppedKeys(merged, parsed.data).map((path) => path.join('.'));
  if (unknown.length > 0) {
    throw new LabError('INVALID_ARGUMENT', `invalid run configuration:\n${unknown.map((k) => `${k}: not a setting of this lab`).join('\n')}`, {
      field: unknown[0],
    });
  }
  return withoutIgnoredSettings(parsed.data);
}
