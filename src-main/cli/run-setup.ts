/**
 * What tells the runs of a sweep apart, in a few characters: the ODE solver (method with its step size or
 * tolerances, `adjoint` when used; for the baselines what they do instead), the training images, and the test images scored when a subset. A run's name is its preset's whatever was overridden,
 * so `runs list` and `runs series` show this beside it; `runs list --json` carries the same fields.
 */
import { isPlainObject, trainImagesOf, type DatasetSpec } from '../../src-shared/config';
import { DEFAULT_BLOCKS, depthLabel, hasBlocks, ownSolver, usesSolverSpec, type ModelName } from '../../src-shared/run-config';
import { METHOD_NAMES, solverInfo, type MethodName } from '../../src-shared/solvers';
import type { RunSetup } from '../store';
import { compactNumber } from './number-text';

/** The settings of a run's ODE solve that a sweep varies, with the defaults the engine fills in (ode/options.ts). */
export interface SetupFields {
  /** Fixed-step methods (rknet: 1/blocks); null for adaptive ones and for models without an ODE block. */
  stepSize: number | null;
  /** Adaptive methods; null for fixed-step ones and for models without an ODE block. */
  rtol: number | null;
  atol: number | null;
  /** 'direct' or 'adjoint' (rknet: direct); null for models without an ODE block. */
  gradient: string | null;
  /** resnet's residual blocks, rknet's RK4 steps; null for the other models. */
  blocks: number | null;
  /** The training images it trains on: once started, as recorded; before, as its config says (null: not known yet). */
  trainSize: number | null;
  /** The test images each epoch scores when a subset (--test-size); null: the whole test split. */
  testSize: number | null;
  /** `euler h=0.05`, `dopri5 tol=1e-3 adjoint`; `rk4×6` (rknet), `6 blocks` (resnet), '—' (mlp), as runName says them. */
  solverSummary: string;
}

const NO_SOLVER = '—';

const numberOr = (v: unknown, fallback: number | null): number | null => (typeof v === 'number' ? v : fallback);

/**
 * A run's setup fields. `setup.solver` is its stored `model.solver`: a setting left to its default is absent, and
 * reads as the catalogue's default (src-shared/solvers.ts), as the engine reads it.
 */
export function setupFields(setup: RunSetup): SetupFields {
  const trainSize = setup.trainImages ?? setup.trainSize ?? trainImagesOf(setup.dataset as DatasetSpec) ?? null;
  if (!usesSolverSpec(setup.model as ModelName)) {
    // What the model does, from its blocks: runs stored before the config said so hold a solver it ignored.
    const model = setup.model as ModelName;
    const blocks = hasBlocks(model) ? (setup.blocks ?? DEFAULT_BLOCKS) : null;
    const own = model === 'rknet' ? ownSolver({ name: model, blocks: blocks! }) : undefined;
    const rk4 = own ? { stepSize: own.stepSize ?? null, gradient: own.gradient } : { stepSize: null, gradient: null };
    const summary = blocks === null ? undefined : depthLabel(model, blocks);
    return { ...rk4, rtol: null, atol: null, blocks, trainSize, testSize: setup.testSize, solverSummary: summary ?? NO_SOLVER };
  }
  const solver = setup.solver;
  const method = typeof solver.method === 'string' ? solver.method : 'dopri5';
  const gradient = typeof solver.gradient === 'string' ? solver.gradient : 'direct';
  // A method this version does not know (a newer lab's run): only what the config says.
  const info = (METHOD_NAMES as readonly string[]).includes(method) ? solverInfo(method as MethodName) : undefined;
  const defaults: { stepSize?: number; rtol?: number; atol?: number } = info?.defaults ?? {};
  const adaptive = info ? info.adaptive : solver.stepSize === undefined;
  const stepSize = adaptive ? null : numberOr(solver.stepSize, defaults.stepSize ?? null);
  const rtol = adaptive ? numberOr(solver.rtol, defaults.rtol ?? null) : null;
  const atol = adaptive ? numberOr(solver.atol, defaults.atol ?? null) : null;
  const parts = [method];
  if (stepSize !== null) parts.push(`h=${compactNumber(stepSize)}`);
  if (rtol !== null && rtol === atol) parts.push(`tol=${compactNumber(rtol)}`);
  else {
    if (rtol !== null) parts.push(`rtol=${compactNumber(rtol)}`);
    if (atol !== null) parts.push(`atol=${compactNumber(atol)}`);
  }
  if (gradient !== 'direct') parts.push(gradient);
  return { stepSize, rtol, atol, gradient, blocks: null, trainSize, testSize: setup.testSize, solverSummary: parts.join(' ') };
}

/** A run's setup from its detail (runs show): the same fields from its parsed config. */
export function setupOfDetail(run: { name: string; model: string; trainSize: number | null; config: unknown }): RunSetup {
  const config = isPlainObject(run.config) ? run.config : {};
  const model = isPlainObject(config.model) ? config.model : {};
  return {
    name: run.name,
    model: run.model,
    solver: isPlainObject(model.solver) ? model.solver : {},
    dataset: isPlainObject(config.dataset) ? config.dataset : {},
    trainSize: typeof config.trainSize === 'number' ? config.trainSize : null,
    trainImages: run.trainSize,
    testSize: typeof config.testSize === 'number' ? config.testSize : null,
    blocks: typeof model.blocks === 'number' ? model.blocks : null,
  };
}
