/**
 * Builds a RunConfig from a preset, a JSON config file and command-line flags (later ones win), then validates
 * it with the shared zod schema so every error names its field.
 */
import { readFileSync } from 'node:fs';
import { fileProblem } from './file-arguments';
import { LabError } from '../../src-shared/errors';
import { describeIssues, isPlainObject } from '../../src-shared/config';
import { PRESETS } from '../../src-shared/presets';
import { droppedKeys, OptimizerSpec, RunConfig } from '../../src-shared/run-config';
import { METHOD_NAMES, solverInfo, type MethodName } from '../../src-shared/solvers';

export interface TrainFlags {
  preset?: string;
  config?: string;
  model?: string;
  init?: string;
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
  lrSchedule?: 'constant' | 'cosine';
  weightDecay?: number;
  seed?: number;
  trainSize?: number;
  evalEvery?: number;
  emaDecay?: number;
  normalisation?: string;
  name?: string;
}

type Json = Record<string, unknown>;

/** Deep merge of plain objects; arrays and scalars in `over` replace those in `base`. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}

function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `--config: cannot read ${path}: ${fileProblem(e)}`, { field: 'config', path });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('expected a JSON object');
    return parsed;
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `--config: ${path} is not a JSON object: ${(e as Error).message}`);
  }
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
 * `base`: a config to start from (the checkpoint's, for `train --resume`); the preset, the --config file and the
 * flags go over it in that order.
 */
export function runConfigFromFlags(f: TrainFlags, base?: RunConfig): RunConfig {
  if (f.preset !== undefined && !(f.preset in PRESETS)) {
    throw new LabError('INVALID_ARGUMENT', `--preset: unknown preset '${f.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  }
  let config: Json = base ? (structuredClone(base) as Json) : {};
  if (f.preset) config = deepMerge(config, structuredClone(PRESETS[f.preset].config) as Json);
  if (f.config) config = deepMerge(config, readConfigFile(f.config));
  const model = (config.model ?? {}) as Json;
  // A method keeps the inherited solver settings that apply to it: a stepSize means nothing to an adaptive method,
  // tolerances nothing to a fixed-step one (so --method euler on the shapes-euler preset keeps its step 0.05).
  if (f.method !== undefined) {
    if (!METHOD_NAMES.includes(f.method as MethodName)) {
      throw new LabError('INVALID_ARGUMENT', `--method: unknown method '${f.method}'; expected one of ${METHOD_NAMES.join(', ')}`);
    }
    const { stepSize, rtol, atol, ...kept } = (model.solver ?? {}) as Json;
    model.solver = solverInfo(f.method as MethodName).adaptive ? { ...kept, rtol, atol } : { ...kept, stepSize };
  }
  // Likewise another optimizer: an inherited momentum (mnist-odenet's SGD 0.9) means nothing to Adam, and the
  // flag itself is refused here, before the schema's field-path message could name the config instead of the flag.
  const optimizer = (isPlainObject(config.optimizer) ? config.optimizer : {}) as Json;
  if (f.optimizer !== undefined && f.optimizer !== 'sgd') delete optimizer.momentum;
  const kind = f.optimizer ?? optimizer.kind ?? OptimizerSpec.parse({}).kind;
  if (f.momentum !== undefined && kind !== 'sgd') {
    throw new LabError('INVALID_ARGUMENT', `--momentum: only SGD uses momentum; this run's optimizer is ${String(kind)}`, { field: 'momentum' });
  }
  if (Object.keys(optimizer).length) config.optimizer = optimizer;
  // Likewise another dataset: the shapes generator's settings mean nothing to MNIST.
  if (f.dataset !== undefined && isPlainObject(config.dataset) && config.dataset.kind !== f.dataset) delete config.dataset;
  const flags: Json = {
    name: f.name,
    model: { name: f.model, init: f.init, solver: solverFromFlags(f) },
    dataset: datasetFromFlags(f),
    optimizer: { kind: f.optimizer, lr: f.lr, schedule: f.lrSchedule, momentum: f.momentum, weightDecay: f.weightDecay },
    batchSize: f.batchSize,
    epochs: f.epochs,
    seed: f.seed,
    trainSize: f.trainSize,
    evalEvery: f.evalEvery,
    emaDecay: f.emaDecay,
    normalisation: f.normalisation,
  };
  const merged = deepMerge({ ...config, model }, flags);
  const parsed = RunConfig.safeParse(merged);
  if (!parsed.success) {
    throw new LabError('INVALID_ARGUMENT', `invalid run configuration:\n${describeIssues(parsed.error)}`);
  }
  checkFlagsApply(f, parsed.data);
  // Zod drops keys it does not know; a misspelt setting in --config would otherwise be silently ignored.
  const unknown = droppedKeys(merged, parsed.data).map((path) => path.join('.'));
  if (unknown.length > 0) {
    throw new LabError('INVALID_ARGUMENT', `invalid run configuration:\n${unknown.map((k) => `${k}: not a setting of this lab`).join('\n')}`, {
      field: unknown[0],
    });
  }
  return parsed.data;
}
