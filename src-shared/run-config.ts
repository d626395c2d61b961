/**
 * What a training run is: model (with its ODE solver), dataset, optimisation and schedule. Zod schemas, so
 * parsing a config file, CLI flags or an IPC payload is validation with field-level messages.
 */
import { z } from 'zod';
import { DatasetSpec, isPlainObject, SolverSpec, solverSpecIssues, stepSizeOf } from './config';
import { fixedStepCount, solverInfo } from './solvers';

export const MODEL_NAMES = [
  'odenet-mnist',
  'convnode-fashion',
  'shapes-odenet',
  'odenet-paper',
  'mlp',
  'resnet',
  'rknet',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** The blocks of resnet and rknet unless set; what the other models record (and ignore). */
export const DEFAULT_BLOCKS = 6;
export const MAX_BLOCKS = 64;

export const ModelSpec = z.object({
  name: z.enum(MODEL_NAMES),
  /**
   * How the ODE block is solved. Only for the models usesSolverSpec names: the others record ownSolver's (new runs;
   * runs stored earlier may hold a preset's solver they ignored).
   */
  solver: SolverSpec.prefault({ method: 'dopri5' }),
  /** resnet: residual blocks replacing the ODE block. rknet: RK4 steps over [0, 1]. Others: DEFAULT_BLOCKS, unread. */
  blocks: z.number().int().positive().max(MAX_BLOCKS).default(DEFAULT_BLOCKS),
  /**
   * Parameter initialisation: 'pytorch' (U(±1/√fanIn) for weights and biases, torch.nn's default) or 'glorot'
   * (U(±√(6/(fanIn + fanOut))) weights, zero biases: Flux.jl's default, the Fashion-MNIST write-up's framework).
   */
  init: z.enum(['pytorch', 'glorot']).default('pytorch'),
});
export type ModelSpec = z.infer<typeof ModelSpec>;

/** The interval the models' ODE block integrates over (models/blocks.ts): h(1) from h(0). */
export const ODE_BLOCK_INTERVAL = [0, 1] as const;

/** Whether a model solves its ODE block as `model.solver` says: mlp and resnet have none, rknet fixes its own RK4 grid. */
export function usesSolverSpec(name: ModelName): boolean {
  return name !== 'mlp' && name !== 'resnet' && name !== 'rknet';
}

/** Whether `model.blocks` means anything to a model: resnet's residual blocks, rknet's RK4 steps. */
export function hasBlocks(name: ModelName): boolean {
  return name === 'resnet' || name === 'rknet';
}

/**
 * The solver a model that does not follow `model.solver` records, so its config says what it does: rknet's RK4
 * grid of `blocks` steps with direct backprop (models/zoo.ts), and for mlp and resnet the schema's default, which
 * they never read (a preset's dopri5 with adjoint would read as if they solved something).
 */
export function ownSolver(model: Pick<ModelSpec, 'name' | 'blocks'>): SolverSpec {
  return SolverSpec.parse(model.name === 'rknet' ? { method: 'rk4', stepSize: 1 / model.blocks, gradient: 'direct' } : {});
}

/** How a baseline computes what an ODE block would, in a few characters: `6 blocks` (resnet), `rk4×6` (rknet). */
export function depthLabel(name: string, blocks: number): string | undefined {
  if (name === 'resnet') return `${blocks} block${blocks === 1 ? '' : 's'}`;
  if (name === 'rknet') return `rk4×${blocks}`;
  return undefined;
}

/**
 * The method a run's block is solved with, as runs list --method filters: the stored one for the models that
 * follow it, rk4 for rknet (whose runs stored before ownSolver hold an ignored default), none for mlp and resnet.
 */
export function solvedMethod(model: string, storedMethod: string): string | undefined {
  if (model === 'rknet') return 'rk4';
  return (MODEL_NAMES as readonly string[]).includes(model) && !usesSolverSpec(model as ModelName) ? undefined : storedMethod;
}

/** The index of the first element not greater than the one before it, or -1 when the list strictly increases. */
export function firstNotIncreasing(xs: readonly number[]): number {
  return xs.findIndex((x, k) => k > 0 && x <= xs[k - 1]);
}

/** The step schedule's factor unless set (PyTorch's MultiStepLR's, and odenet_mnist.py's ×0.1 per boundary). */
export const DEFAULT_GAMMA = 0.1;

/**
 * What is wrong with a learning-rate schedule's settings: milestones or a gamma without the step schedule (as the
 * default every parsed config carries, [] and 0.1 are not settings), a step schedule without milestones, or
 * milestones that do not increase (the epochs after which to decay, each once).
 */
export function scheduleIssues(spec: { schedule: string; milestones: number[]; gamma: number }): { path: string[]; message: string }[] {
  const { schedule, milestones, gamma } = spec;
  if (schedule !== 'step') {
    return [
      ...(milestones.length > 0
        ? [{ path: ['milestones'], message: `only the step schedule has milestones; this schedule is ${schedule}: remove milestones [${milestones.join(', ')}]` }]
        : []),
      ...(gamma !== DEFAULT_GAMMA ? [{ path: ['gamma'], message: `only the step schedule uses gamma; this schedule is ${schedule}: remove gamma ${gamma}` }] : []),
    ];
  }
  if (milestones.length === 0) {
    return [{ path: ['milestones'], message: 'the step schedule needs milestones: the epochs after which the learning rate is multiplied by gamma (e.g. [60, 100, 140])' }];
  }
  const i = firstNotIncreasing(milestones);
  return i < 0 ? [] : [{ path: ['milestones'], message: `milestones must increase: ${milestones[i]} follows ${milestones[i - 1]}` }];
}

export const OptimizerSpec = z.object({
  kind: z.enum(['sgd', 'adam', 'adamw']).default('adam'),
  lr: z.number().finite().positive().default(1e-3),
  /**
   * 'constant'; 'cosine': lr · ½(1 + cos(π·t/T)) over the run's T updates (annealed towards 0); 'step': lr ·
   * gamma^k in epochs after the k-th of `milestones` (torchdiffeq's odenet_mnist.py: 60, 100, 140, gamma 0.1).
   */
  schedule: z.enum(['constant', 'cosine', 'step']).default('constant'),
  /**
   * The step schedule's epochs, increasing: the learning rate is multiplied by gamma from the first update of the
   * epoch after each (60: epochs 1–60 at lr, 61 on at lr·gamma). Epochs count from the run's start, a checkpoint's
   * included, so a longer --epochs never moves them; one beyond the run's last epoch never takes effect.
   */
  milestones: z.array(z.number().int().positive()).default([]),
  /** The step schedule's factor at each milestone. */
  gamma: z.number().finite().positive().max(1).default(DEFAULT_GAMMA),
  /** SGD momentum (0 = plain SGD). */
  momentum: z.number().finite().min(0).max(1).default(0),
  /** L2 penalty for sgd/adam (added to the gradient); decoupled decay for adamw (as PyTorch's AdamW). */
  weightDecay: z.number().finite().min(0).default(0),
  beta1: z.number().finite().min(0).max(1).default(0.9),
  beta2: z.number().finite().min(0).max(1).default(0.999),
  epsilon: z.number().finite().positive().default(1e-8),
}).superRefine((spec, ctx) => {
  // 0 is no momentum (and the default every optimizer's parsed config carries); only SGD reads the value.
  if (spec.kind !== 'sgd' && spec.momentum !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['momentum'],
      message: `only SGD uses momentum; ${spec.kind} has its own moment estimates (beta1, beta2): remove momentum ${spec.momentum}`,
    });
  }
  for (const issue of scheduleIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
});
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

/** Crop augmentation's padding unless set (odenet_mnist.py's), and the most a config may ask for. */
export const DEFAULT_AUGMENT_PADDING = 4;
export const MAX_AUGMENT_PADDING = 64;

/** A run's config as stored runs are read (readStoredConfig); RunConfig adds what a new run must satisfy. */
const StoredRunConfig = z.object({
  name: z.string().max(200).optional(),
  model: ModelSpec,
  dataset: DatasetSpec,
  /** 'unit': pixels in [0, 1]; 'symmetric': [−1, 1] (the MNIST write-up's Normalize(0.5, 0.5)). */
  normalisation: z.enum(['unit', 'symmetric']).default('unit'),
  /**
   * Training batches only (never test or evaluation images): 'crop' pads each image with augmentPadding black
   * pixels and crops a random window of its size (torchvision's RandomCrop(28, padding=4), odenet_mnist.py's
   * data_aug), seeded by the run's seed, the epoch and the image's place in it.
   */
  augment: z.enum(['none', 'crop']).default('none'),
  augmentPadding: z.number().int().positive().max(MAX_AUGMENT_PADDING).default(DEFAULT_AUGMENT_PADDING),
  optimizer: OptimizerSpec.prefault({ kind: 'adam' }),
  batchSize: z.number().int().positive().max(65536).default(128),
  epochs: z.number().int().positive().max(10000).default(1),
  /** Train on a stratified, seeded subset of this many training images (all when absent). */
  trainSize: z.number().int().positive().optional(),
  /**
   * Score each epoch's end on a stratified, seeded subset of this many test images (the whole test split when
   * absent): the same images every epoch and on resume. In-epoch evaluations (evalEvery) take their evalSize from it.
   */
  testSize: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().max(0xffffffff).default(0),
  /**
   * Weight averaging: evaluate (and checkpoint alongside the trained weights) the exponential moving average of
   * the weights after each update, Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ with d = emaDecay (bias-corrected, so the initial weights do
   * not count). Training itself is unchanged. It smooths the jitter a large learning rate leaves in the weights;
   * d = 0.99 averages over about the last 100 updates. 0 = off: the trained weights are evaluated.
   */
  emaDecay: z.number().finite().min(0).lt(1).default(0),
  /** Evaluate on the test set every N batches as well as at each epoch end (0 = only at epoch ends). */
  evalEvery: z.number().int().nonnegative().default(0),
  /** Test images used by those in-epoch evaluations: the first evalSize of those an epoch's end scores (testSize). */
  evalSize: z.number().int().positive().default(1000),
});

/**
 * A run's config. Beyond StoredRunConfig: an augmentPadding without crop augmentation, solver settings that cannot
 * work (solverSpecIssues), and a fixed-step
 * ODE block that needs more steps than maxSteps allows, refused here rather than by the first batch's MAX_STEPS,
 * or whose step is longer than the block's interval.
 */
export const RunConfig = StoredRunConfig.superRefine((config, ctx) => {
  // As the schedule's defaults: the default padding every parsed config carries is not a setting.
  if (config.augment !== 'crop' && config.augmentPadding !== DEFAULT_AUGMENT_PADDING) {
    ctx.addIssue({
      code: 'custom',
      path: ['augmentPadding'],
      message: `only augment "crop" pads; this run's augment is ${config.augment}: remove augmentPadding ${config.augmentPadding}`,
    });
  }
  const { name, solver } = config.model;
  for (const issue of solverSpecIssues(solver)) ctx.addIssue({ code: 'custom', ...issue, path: ['model', 'solver', ...issue.path] });
  // A solver the schema refused already (a step size of 0, a maxSteps of -5) has its message: counting steps with
  // it would add a second, nonsensical one ("needs Infinity steps").
  const solverRefused = ctx.issues.some(({ path = [] }) => path[0] === 'model' && (path[1] === 'solver' || path[1] === 'name'));
  if (solverRefused || !usesSolverSpec(name) || solverInfo(solver.method).adaptive) return;
  const [t0, t1] = ODE_BLOCK_INTERVAL;
  const stepSize = stepSizeOf(solver);
  if (stepSize > t1 - t0) {
    // The integrator would cut it to one step of the interval, while the config (and every listing) said otherwise.
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'solver', 'stepSize'],
      message: `stepSize ${stepSize} is longer than the ODE block's interval [${t0}, ${t1}]: at most ${t1 - t0} (one step)`,
    });
    return;
  }
  const needed = fixedStepCount(t1 - t0, stepSize);
  if (needed > solver.maxSteps) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'solver', 'maxSteps'],
      message:
        `${solver.method} with stepSize ${stepSize}${solver.stepSize === undefined ? ' (its default)' : ''} needs ${needed} ` +
        `steps over [${t0}, ${t1}]; maxSteps is ${solver.maxSteps}: raise maxSteps to ${needed} or more, or the step size`,
    });
  }
});
export type RunConfig = z.infer<typeof RunConfig>;
export type RunConfigInput = z.input<typeof RunConfig>;

/**
 * What a run is called: its config's name, else `shapes-odenet · euler · shapes` (model, method, dataset); for the
 * baselines, what they do instead of a method (as runs list's solver column): `mlp · mnist`, `resnet · 6 blocks ·
 * mnist`, `rknet · rk4×6 · mnist`.
 */
export function runName(config: RunConfig): string {
  const { name, solver, blocks } = config.model;
  const how = usesSolverSpec(name) ? solver.method : depthLabel(name, blocks);
  return config.name ?? [name, ...(how ? [how] : []), config.dataset.kind].join(' · ');
}

export const RUN_STATUSES = ['completed', 'cancelled', 'diverged', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * The keys of `input` (as paths, at every depth) that did not survive into `parsed`: zod drops keys it does not
 * know, so these are settings this version does not have (a typo, or a newer lab's).
 */
export function droppedKeys(input: unknown, parsed: unknown, path: string[] = []): string[][] {
  if (!isPlainObject(input)) return [];
  return Object.entries(input).flatMap(([k, v]) => {
    if (v === undefined) return [];
    // Own keys only: `k in parsed` would take '__proto__', 'constructor' or 'toString' for settings.
    if (!isPlainObject(parsed) || !Object.hasOwn(parsed, k)) return [[...path, k]];
    return droppedKeys(v, parsed[k], [...path, k]);
  });
}

/** Where a config has something other than an object where RunConfig has one (`optimizer: "sgd"`). */
export interface MisshapenField {
  path: string[];
  found: unknown;
}

/** Which keys of a value of `schema` hold objects, at every depth; undefined when the value is not an object. */
type ObjectShape = { [key: string]: ObjectShape };

function objectShape(schema: z.ZodType): ObjectShape | undefined {
  if (schema instanceof z.ZodObject) {
    const shape: ObjectShape = Object.create(null) as ObjectShape;
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const inner = objectShape(field);
      if (inner) shape[key] = inner;
    }
    return shape;
  }
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return objectShape(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodPipe) return objectShape(schema.in as z.ZodType);
  if (schema instanceof z.ZodUnion) {
    // A discriminated union of objects (DatasetSpec): an object, holding the objects any of its options holds.
    const options = (schema.options as z.ZodType[]).map(objectShape);
    return options.every((o) => o !== undefined) ? Object.assign(Object.create(null) as ObjectShape, ...options) : undefined;
  }
  return undefined;
}

const RUN_CONFIG_SHAPE = objectShape(StoredRunConfig) ?? {};

/**
 * The fields of a partial config (a --config file) that RunConfig has as objects (model, model.solver, optimizer,
 * dataset) but that hold something else, outermost first. Merging a config over another descends into objects and
 * replaces anything else, so a string there would be replaced by the next layer's object, and its defaults taken.
 */
export function misshapenFields(input: unknown, shape: ObjectShape = RUN_CONFIG_SHAPE, path: string[] = []): MisshapenField[] {
  if (!isPlainObject(input)) return [];
  return Object.entries(input).flatMap(([key, value]) => {
    if (value === undefined || !Object.hasOwn(shape, key)) return [];
    if (!isPlainObject(value)) return [{ path: [...path, key], found: value }];
    return misshapenFields(value, shape[key], [...path, key]);
  });
}

/**
 * A config stored earlier (run store, checkpoint) as this version reads configs: settings added since take their
 * defaults, which are what the earlier version did (a run stored before `emaDecay` existed did not average).
 * RunConfig's checks for new runs do not apply: a stored run is what happened, even one that failed for want of
 * maxSteps. A momentum stored with adam or adamw (a --config file could set one before OptimizerSpec refused
 * it) reads as 0: they never read it. Undefined when this version cannot read it without losing something: an
 * invalid value, or a setting it does not know (a newer lab's).
 */
export function readStoredConfig(stored: unknown): RunConfig | undefined {
  const parsed = StoredRunConfig.safeParse(withoutInertMomentum(stored));
  return parsed.success && droppedKeys(stored, parsed.data).length === 0 ? parsed.data : undefined;
}

function withoutInertMomentum(stored: unknown): unknown {
  if (!isPlainObject(stored) || !isPlainObject(stored.optimizer)) return stored;
  const { kind = 'adam', momentum } = stored.optimizer;
  // Only a value the optimizer schema took before (0, 1]: any other is as invalid as it was.
  if (kind === 'sgd' || typeof momentum !== 'number' || !(momentum > 0 && momentum <= 1)) return stored;
  return { ...stored, optimizer: { ...stored.optimizer, momentum: 0 } };
}
