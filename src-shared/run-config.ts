/**
 * What a training run is: model (with its ODE solver), dataset, optimisation and schedule. Zod schemas, so
 * parsing a config file, CLI flags or an IPC payload is validation with field-level messages.
 */
import { z } from 'zod';
import { DatasetSpec, isPlainObject, SolverSpec } from './config';

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

export const ModelSpec = z.object({
  name: z.enum(MODEL_NAMES),
  /** How the ODE block is solved (ignored by `mlp` and `resnet`; `rknet` always uses a fixed RK4 grid). */
  solver: SolverSpec.prefault({ method: 'dopri5' }),
  /** `resnet`: number of residual blocks replacing the ODE block. `rknet`: RK4 steps over [0, 1]. */
  blocks: z.number().int().positive().max(64).default(6),
  /**
   * Parameter initialisation: 'pytorch' (U(±1/√fanIn) for weights and biases, torch.nn's default) or 'glorot'
   * (U(±√(6/(fanIn + fanOut))) weights, zero biases: Flux.jl's default, the Fashion-MNIST write-up's framework).
   */
  init: z.enum(['pytorch', 'glorot']).default('pytorch'),
});
export type ModelSpec = z.infer<typeof ModelSpec>;

export const OptimizerSpec = z.object({
  kind: z.enum(['sgd', 'adam', 'adamw']).default('adam'),
  lr: z.number().finite().positive().default(1e-3),
  /** 'constant', or 'cosine': lr · ½(1 + cos(π·t/T)) over the run's T updates (annealed towards 0). */
  schedule: z.enum(['constant', 'cosine']).default('constant'),
  /** SGD momentum (0 = plain SGD). */
  momentum: z.number().finite().min(0).max(1).default(0),
  /** L2 penalty for sgd/adam (added to the gradient); decoupled decay for adamw (as PyTorch's AdamW). */
  weightDecay: z.number().finite().min(0).default(0),
  beta1: z.number().finite().min(0).max(1).default(0.9),
  beta2: z.number().finite().min(0).max(1).default(0.999),
  epsilon: z.number().finite().positive().default(1e-8),
});
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

export const RunConfig = z.object({
  name: z.string().max(200).optional(),
  model: ModelSpec,
  dataset: DatasetSpec,
  /** 'unit': pixels in [0, 1]; 'symmetric': [−1, 1] (the MNIST write-up's Normalize(0.5, 0.5)). */
  normalisation: z.enum(['unit', 'symmetric']).default('unit'),
  optimizer: OptimizerSpec.prefault({ kind: 'adam' }),
  batchSize: z.number().int().positive().max(65536).default(128),
  epochs: z.number().int().positive().max(10000).default(1),
  /** Train on a stratified, seeded subset of this many training images (all when absent). */
  trainSize: z.number().int().positive().optional(),
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
  /** Test images used by those in-epoch evaluations (all at epoch ends). */
  evalSize: z.number().int().positive().default(1000),
});
export type RunConfig = z.infer<typeof RunConfig>;
export type RunConfigInput = z.input<typeof RunConfig>;

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
    if (!isPlainObject(parsed) || !(k in parsed)) return [[...path, k]];
    return droppedKeys(v, parsed[k], [...path, k]);
  });
}

/**
 * A config stored earlier (run store, checkpoint) as this version reads configs: settings added since take their
 * defaults, which are what the earlier version did (a run stored before `emaDecay` existed did not average).
 * Undefined when this version cannot read it without losing something: an invalid value, or a setting it does
 * not know (a newer lab's).
 */
export function readStoredConfig(stored: unknown): RunConfig | undefined {
  const parsed = RunConfig.safeParse(stored);
  return parsed.success && droppedKeys(stored, parsed.data).length === 0 ? parsed.data : undefined;
}
