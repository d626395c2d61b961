/** How presets, --config files, checkpoint configs and flags combine into a run config (no process needed). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConfigFromFlags } from '../../src-main/cli/run-config-from-flags';
import { labErrorOf } from '../lab-error';
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

  it('refuses --max-steps below what a fixed step size needs over the ODE block, naming the field', () => {
    const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 10 }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('model.solver.maxSteps: euler with stepSize 0.05 needs 20 steps over [0, 1]; maxSteps is 10');
    expect(runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 20 }).model.solver.maxSteps).toBe(20);
    expect(runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 10, stepSize: 0.1 }).model.solver.maxSteps).toBe(10);
  });

  it("drops an inherited momentum when --optimizer names one without it; refuses --momentum for it, naming the flag", () => {
    expect(runConfigFromFlags({ preset: 'mnist-odenet' }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    const adam = runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'adam' }).optimizer;
    expect(adam).toMatchObject({ kind: 'adam', lr: 1e-3 });
    expect(adam.momentum ?? 0).toBe(0);
    expect(runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'sgd' }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', momentum: 0.9 }));
    expect(e.message).toBe("INVALID_ARGUMENT: --momentum: only SGD uses momentum; this run's optimizer is adam");
    expect(labErrorOf(() => runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'adamw', momentum: 0.5 })).message).toMatch(/^INVALID_ARGUMENT: --momentum: .* adamw$/);
    expect(runConfigFromFlags({ preset: 'shapes-euler', optimizer: 'sgd', momentum: 0.5 }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.5 });
  });

  it('refuses a momentum for adam from a --config file, as it refuses --momentum', () => {
    const dir = mkdtempSync(join(tmpdir(), 'odelab-config-'));
    try {
      const file = join(dir, 'adam.json');
      writeFileSync(file, JSON.stringify({ optimizer: { kind: 'adam', momentum: 0.9 } }));
      const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', config: file }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/optimizer\.momentum: only SGD uses momentum; adam /);
      writeFileSync(file, JSON.stringify({ optimizer: { kind: 'sgd', momentum: 0.9 } }));
      expect(runConfigFromFlags({ preset: 'shapes-euler', config: file }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
