/**
 * Run configuration schemas. Parsing *is* validation: every schema gives field-level errors.
 * Pure zod — no Node, DOM or tfjs imports.
 */
import { z } from 'zod';
import { METHOD_NAMES, solverInfo } from './solvers';

const positive = z.number().finite().positive();

/** How an ODE block is solved: method, tolerances or step size, and how gradients are computed. */
export const SolverSpec = z
  .object({
    method: z.enum(METHOD_NAMES).default('dopri5'),
    rtol: positive.optional(),
    atol: positive.optional(),
    stepSize: positive.optional(),
    maxSteps: z.number().int().positive().default(1000),
    minStep: z.number().finite().nonnegative().default(0),
    controller: z.enum(['I', 'PI']).default('I'),
    gradient: z.enum(['direct', 'adjoint']).default('direct'),
    adjointRtol: positive.optional(),
    adjointAtol: positive.optional(),
    /** Nonlinear solve of the implicit methods: residual tolerance and iteration cap per step. */
    implicitTol: positive.default(1e-6),
    implicitMaxIters: z.number().int().positive().default(50),
  })
  .superRefine((spec, ctx) => {
    const info = solverInfo(spec.method);
    if (!info.adaptive && spec.stepSize === undefined) return; // the catalogue default applies
    if (info.adaptive && spec.stepSize !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['stepSize'],
        message: `'${spec.method}' chooses its own step size; set rtol/atol instead of stepSize`,
      });
    }
  });

export type SolverSpec = z.infer<typeof SolverSpec>;
export type SolverSpecInput = z.input<typeof SolverSpec>;

/** The step a fixed-step spec takes: its own, or the catalogue's default. */
export function stepSizeOf(spec: SolverSpec): number {
  const defaults = solverInfo(spec.method).defaults;
  return spec.stepSize ?? ('stepSize' in defaults ? defaults.stepSize : 0.1);
}

/** The tolerances an adaptive spec solves to: its own, or the catalogue's defaults. */
export function tolerancesOf(spec: Pick<SolverSpec, 'method' | 'rtol' | 'atol'>): { rtol: number; atol: number } {
  const defaults = solverInfo(spec.method).defaults;
  return { rtol: spec.rtol ?? ('rtol' in defaults ? defaults.rtol : 1e-3), atol: spec.atol ?? ('atol' in defaults ? defaults.atol : 1e-3) };
}

/** float32's normal range: the solver's error norms run in float32. */
const FLOAT32_MIN_NORMAL = 2 ** -126;
const FLOAT32_MAX = 3.4028234663852886e38;

export interface SpecIssue {
  path: (string | number)[];
  message: string;
}

/**
 * What a solver spec must satisfy to be run, beyond SolverSpec. Tolerances outside float32's range are ∞ or 0
 * there, and the norms NaN (∞·0, 0/0) on a finite state. Kept out of SolverSpec, with which stored runs'
 * configs are read: a run stored before this check still reads (RunConfig and odeint apply it to new ones).
 */
export function solverSpecIssues(spec: SolverSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const key of ['rtol', 'atol', 'adjointRtol', 'adjointAtol'] as const) {
    const value = spec[key];
    // A value SolverSpec refuses (0, -1, Infinity) has its message already.
    if (value === undefined || !(value > 0 && Number.isFinite(value))) continue;
    if (value > FLOAT32_MAX) {
      issues.push({ path: [key], message: `${value} is beyond float32 (the solver's error norm is float32, at most 3.4e38)` });
    } else if (value < FLOAT32_MIN_NORMAL) {
      issues.push({ path: [key], message: `${value} is below float32's range (the solver's error norm is float32, at least 1.2e-38)` });
    }
  }
  return issues;
}

/** SolverSpec with the checks of solverSpecIssues: what odeint accepts. */
export const RunnableSolverSpec = SolverSpec.superRefine((spec, ctx) => {
  for (const issue of solverSpecIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
});

/** Formats zod issues as `field: reason` lines, the form users see in the CLI and UI. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

/** A JSON object (not null, not an array): what config merging, diffing and reading descend into. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ── DatasetSpec ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * Centre distance the generator adds to the two radii (plus minGap) so the two shapes of a pair never share or
 * touch an inked pixel: 0.5 px of anti-aliasing spread on each side plus one pixel diagonal (√2).
 */
export const PAIR_CLEARANCE_PX = 1 + Math.SQRT2;

const fraction = z.number().finite().min(0).max(1);
/** A closed [min, max] range; min ≤ max is checked so the error names the field, not the generator. */
const range = (lo: number, hi: number) =>
  z
    .tuple([z.number().finite().min(lo).max(hi), z.number().finite().min(lo).max(hi)])
    .refine(([a, b]) => a <= b, { message: 'min must not exceed max' });

/**
 * Optional stratified training subset (the write-ups train on 500 / 1350 / 2700 images). The subset keeps the
 * class proportions of the full training split; `subsetSeed` picks which images.
 */
const subsetFields = {
  trainSubset: z.number().int().positive().optional(),
  subsetSeed: z.number().int().nonnegative().default(0),
};

export const IdxDatasetKinds = ['mnist', 'fashion-mnist'] as const;
export type IdxDatasetKind = (typeof IdxDatasetKinds)[number];

export const MnistSpec = z.object({ kind: z.literal('mnist'), ...subsetFields });
export const FashionMnistSpec = z.object({ kind: z.literal('fashion-mnist'), ...subsetFields });

/**
 * The synthetic shapes generator. Sizes are fractions of `imageSize` (the diameter of the circle a shape is
 * inscribed in), so one spec reads the same at 28 px and at 64 px. Same spec + seed ⇒ byte-identical data.
 */
export const ShapesSpec = z
  .object({
    kind: z.literal('shapes'),
    /** 'single': triangle / circle / rectangle. 'compound': blank, the three shapes and their three pairs. */
    mode: z.enum(['single', 'compound']).default('single'),
    trainCount: z.number().int().positive().max(1_000_000).default(2700),
    testCount: z.number().int().positive().max(1_000_000).default(6000),
    seed: z.number().int().nonnegative().max(0xffffffff).default(0),
    imageSize: z.number().int().min(8).max(256).default(28),
    /** Pixel noise amplitude as a fraction of full scale (0 = clean images). */
    noise: fraction.default(0),
    /** Shape diameter as a fraction of imageSize, for a shape alone in the image. */
    sizeRange: range(0.05, 1).default([0.45, 0.8]),
    /** Shape diameter as a fraction of imageSize, for each shape of a pair (pairs need room for two). */
    pairSizeRange: range(0.05, 0.5).default([0.3, 0.42]),
    /** 0 = centred, 1 = anywhere the shape fits inside the image. */
    positionJitter: fraction.default(1),
    /** Maximum rotation either way, in degrees (180 = any orientation). */
    rotationJitter: z.number().finite().min(0).max(180).default(180),
    /** Rectangles' short side / long side. */
    aspectRange: range(0.2, 1).default([0.5, 1]),
    fill: z.enum(['filled', 'outline', 'mixed']).default('filled'),
    /** Outline stroke width in pixels (used when fill is 'outline' or 'mixed'). */
    strokeWidth: z.number().finite().min(0.5).max(16).default(2),
    antialias: z.boolean().default(true),
    /** Minimum empty gap in pixels between the two shapes of a pair (they never touch or overlap). */
    minGap: z.number().finite().min(0).max(32).default(2),
    ...subsetFields,
  })
  .superRefine((spec, ctx) => {
    // Pair placement must always succeed: two of the largest pair shapes in opposite corners must be far enough
    // apart (the generator falls back to exactly that placement when random tries fail).
    const r = (spec.pairSizeRange[1] * spec.imageSize) / 2;
    const needed = 2 * r + PAIR_CLEARANCE_PX + spec.minGap;
    if (spec.mode === 'compound' && (spec.imageSize - 2 * r) * Math.SQRT2 < needed) {
      ctx.addIssue({
        code: 'custom',
        path: ['pairSizeRange'],
        message: `two shapes of ${(2 * r).toFixed(1)} px with a ${spec.minGap} px gap do not fit in ${spec.imageSize} px`,
      });
    }
    if (spec.trainSubset !== undefined && spec.trainSubset > spec.trainCount) {
      ctx.addIssue({
        code: 'custom',
        path: ['trainSubset'],
        message: `subset of ${spec.trainSubset} is larger than trainCount ${spec.trainCount}`,
      });
    }
  });

/** Which images a run trains and tests on. Discriminated by `kind`; defaults are filled in by parsing. */
export const DatasetSpec = z.discriminatedUnion('kind', [MnistSpec, FashionMnistSpec, ShapesSpec]);

export type DatasetSpec = z.infer<typeof DatasetSpec>;

/**
 * How many training images a spec yields, when the spec alone says (shapes, or a subset of any dataset);
 * undefined for MNIST's or Fashion-MNIST's whole training split, whose size is that of the copy loaded.
 */
export function trainImagesOf(spec: DatasetSpec): number | undefined {
  return spec.trainSubset ?? (spec.kind === 'shapes' ? spec.trainCount : undefined);
}
export type DatasetSpecInput = z.input<typeof DatasetSpec>;
export type ShapesSpec = z.infer<typeof ShapesSpec>;
export type ShapesSpecInput = z.input<typeof ShapesSpec>;
