/**
 * Builds a RunConfig from a preset, a JSON config file and command-line flags (later ones win), then validates
 * it with the shared zod schema so every error names its field.
 */
import { readFileSync } from 'node:fs';
import { LabError } from '../../src-shared/errors';
import { describeIssues, isPlainObject } from '../../src-shared/config';
import { PRESETS } from '../../src-shared/presets';
import { RunConfig } from '../../src-shared/run-config';
import { METHOD_NAMES, type MethodName } from '../../src-shared/solvers';

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
    throw new LabError('INVALID_ARGUMENT', `--config: cannot read ${path}: ${(e as Error).message}`);
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

export function runConfigFromFlags(f: TrainFlags): RunConfig {
  if (f.preset !== undefined && !(f.preset in PRESETS)) {
    throw new LabError('INVALID_ARGUMENT', `--preset: unknown preset '${f.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  }
  let config: Json = f.preset ? (structuredClone(PRESETS[f.preset].config) as Json) : {};
  if (f.config) config = deepMerge(config, readConfigFile(f.config));
  const model = (config.model ?? {}) as Json;
  // A new method starts a fresh solver spec: an inherited stepSize means nothing to an adaptive method and
  // inherited tolerances nothing to a fixed-step one.
  if (f.method !== undefined) {
    if (!METHOD_NAMES.includes(f.method as MethodName)) {
      throw new LabError('INVALID_ARGUMENT', `--method: unknown method '${f.method}'; expected one of ${METHOD_NAMES.join(', ')}`);
    }
    const inherited = (model.solver ?? {}) as Json;
    model.solver = { gradient: inherited.gradient };
  }
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
  return parsed.data;
}
