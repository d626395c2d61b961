/**
 * train's flags that only some models take: the solver flags (models whose ODE block follows model.solver) and
 * --blocks (resnet, rknet). Given for another model they would be recorded and ignored, so they are refused, naming
 * the flags and what the model does instead.
 */
import { LabError } from '../../src-shared/errors';
import { hasBlocks, MAX_BLOCKS, usesSolverSpec, type ModelName } from '../../src-shared/run-config';
import type { TrainFlags } from './run-config-from-flags';

/** The flag that sets each of model.solver's settings (train's; eval takes all but --gradient). */
export const SOLVER_FLAGS = {
  method: '--method',
  rtol: '--rtol',
  atol: '--atol',
  stepSize: '--step-size',
  gradient: '--gradient',
  maxSteps: '--max-steps',
} as const;

export type ModelFlags = Pick<TrainFlags, keyof typeof SOLVER_FLAGS | 'blocks'>;

/** What a model that ignores model.solver does instead, and the flag that sets it. */
function instead(model: ModelName, blocks: number): string {
  if (model === 'mlp') return "model 'mlp' has no ODE block, so no solver";
  if (model === 'resnet') return `model 'resnet' stacks ${blocks} residual blocks and has no ODE solver (--blocks sets their number)`;
  return `model 'rknet' integrates its block on a fixed grid of ${blocks} RK4 steps with direct backprop (--blocks sets the steps)`;
}

/** Refuses the flags `model` (with `blocks`, as the config will hold it) would ignore. */
export function checkModelFlags(f: ModelFlags, model: ModelName, blocks: number): void {
  const solverFlags = Object.entries(SOLVER_FLAGS)
    .filter(([key]) => f[key as keyof typeof SOLVER_FLAGS] !== undefined)
    .map(([, flag]) => flag);
  if (solverFlags.length > 0 && !usesSolverSpec(model)) {
    const which = solverFlags.join(', ');
    const verb = solverFlags.length === 1 ? 'does' : 'do';
    throw new LabError('INVALID_ARGUMENT', `${which}: ${instead(model, blocks)}; ${which} ${verb} not apply to it`, {
      field: solverFlags[0].replace(/^--/, ''),
    });
  }
  if (f.blocks !== undefined && !hasBlocks(model)) {
    const what = usesSolverSpec(model) ? 'its ODE solver sets its depth (--method, --step-size or --rtol/--atol)' : 'it has a fixed depth';
    throw new LabError(
      'INVALID_ARGUMENT',
      `--blocks: model '${model}' has no blocks; ${what}. --blocks is for resnet (residual blocks) and rknet (RK4 steps)`,
      { field: 'blocks' },
    );
  }
  if (f.blocks !== undefined && f.blocks > MAX_BLOCKS) {
    throw new LabError('INVALID_ARGUMENT', `--blocks: expected at most ${MAX_BLOCKS}, got ${f.blocks}`, { field: 'blocks' });
  }
}
