/** How presets, --config files, checkpoint configs and flags combine into a run config (no process needed). */
import { describe, expect, it } from 'vitest';
import { runConfigFromFlags } from '../../src-main/cli/run-config-from-flags';
import { RunConfig } from '../../src-shared/run-config';

describe('runConfigFromFlags', () => {
  it('keeps the inherited solver settings that apply to a new --method, and drops those that do not', () => {
    expect(runConfigFromFlags({ preset: 'shapes-euler', method: 'euler' }).model.solver).toMatchObject({ method: 'euler', stepSize: 0.05 });
    expect(runConfigFromFlags({ preset: 'shapes-euler', method: 'rk4' }).model.solver).toMatchObject({ method: 'rk4', stepSize: 0.05 });
    const adaptive = runConfigFromFlags({ preset: 'shapes-euler', method: 'dopri5' }).model.solver;
    expect(adaptive).toMatchObject({ method: 'dopri5' });
    expect(adaptive.stepSize).toBeUndefined();
    expect(runConfigFromFlags({ preset: 'fashion-convnode', method: 'dopri5' }).model.solver).toMatchObject({ rtol: 1e-3, atol: 1e-3 });
    const fixed = runConfigFromFlags({ preset: 'fashion-convnode', method: 'rk4', stepSize: 0.25 }).model.solver;
    expect(fixed).toMatchObject({ method: 'rk4', stepSize: 0.25 });
    expect(fixed.rtol).toBeUndefined();
    // The adjoint gradient of mnist-odenet is not the method's business: it stays.
    expect(runConfigFromFlags({ preset: 'mnist-odenet', method: 'rk4' }).model.solver.gradient).toBe('adjoint');
  });

  it("drops a preset's dataset settings when --dataset names another dataset", () => {
    expect(runConfigFromFlags({ preset: 'shapes-euler', dataset: 'mnist' }).dataset).toEqual({ kind: 'mnist', subsetSeed: 0 });
    expect(runConfigFromFlags({ preset: 'shapes-euler', dataset: 'shapes' }).dataset).toMatchObject({ kind: 'shapes', mode: 'compound' });
  });

  it("starts from a base config (a checkpoint's), with the flags over it", () => {
    const base = runConfigFromFlags({ preset: 'shapes-euler', seed: 9, trainSize: 300 });
    const next = runConfigFromFlags({ epochs: 8 }, base);
    expect(next).toEqual(RunConfig.parse({ ...base, epochs: 8 }));
  });
});
