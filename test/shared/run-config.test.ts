/** The run config schema: what a new run must satisfy, and that stored runs still read. */
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src-shared/presets';
import { droppedKeys, misshapenFields, readStoredConfig, RunConfig, type RunConfigInput } from '../../src-shared/run-config';

const shapes = PRESETS['shapes-euler'].config;

function withSolver(solver: Record<string, unknown>, model = 'shapes-odenet'): RunConfigInput {
  return { ...shapes, model: { name: model, solver } } as RunConfigInput;
}

/** The `path: message` issues of a config RunConfig refuses. */
function issues(input: unknown): string[] {
  const parsed = RunConfig.safeParse(input);
  if (parsed.success) throw new Error('expected RunConfig to refuse the config');
  return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('RunConfig: a fixed-step ODE block must fit in maxSteps', () => {
  it('refuses maxSteps below the steps the step size needs over [0, 1], on the field', () => {
    expect(issues(withSolver({ method: 'euler', stepSize: 0.05, maxSteps: 10 }))).toEqual([
      'model.solver.maxSteps: euler with stepSize 0.05 needs 20 steps over [0, 1]; maxSteps is 10: raise maxSteps to 20 or more, or the step size',
    ]);
    // 1/0.05 is 20.000000000000004 in floats: 20 steps, as the solver takes.
    expect(RunConfig.safeParse(withSolver({ method: 'euler', stepSize: 0.05, maxSteps: 20 })).success).toBe(true);
    expect(issues(withSolver({ method: 'implicit-midpoint', stepSize: 0.3, maxSteps: 3 }))[0]).toMatch(/needs 4 steps/);
    expect(RunConfig.safeParse(withSolver({ method: 'implicit-midpoint', stepSize: 0.3, maxSteps: 4 })).success).toBe(true);
  });

  it("refuses a step longer than the block's interval, which the integrator would cut to one step of 1", () => {
    expect(issues(withSolver({ method: 'euler', stepSize: 2 }))).toEqual([
      "model.solver.stepSize: stepSize 2 is longer than the ODE block's interval [0, 1]: at most 1 (one step)",
    ]);
    expect(RunConfig.safeParse(withSolver({ method: 'euler', stepSize: 1 })).success).toBe(true);
  });

  it("counts with the catalogue's step size when the config has none", () => {
    expect(issues(withSolver({ method: 'rk4', maxSteps: 9 }))[0]).toMatch(/rk4 with stepSize 0\.1 \(its default\) needs 10 steps/);
  });

  it('leaves adaptive methods, and models whose ODE block does not use model.solver, alone', () => {
    expect(RunConfig.safeParse(withSolver({ method: 'dopri5', maxSteps: 1 })).success).toBe(true);
    for (const model of ['mlp', 'resnet', 'rknet']) {
      expect(RunConfig.safeParse(withSolver({ method: 'euler', stepSize: 0.05, maxSteps: 1 }, model)).success, model).toBe(true);
    }
  });
});

describe('RunConfig: one message for a refused solver setting', () => {
  it('does not count steps, or check float32 range, with a value the schema refused already', () => {
    expect(issues(withSolver({ method: 'euler', stepSize: 0 }))).toEqual(['model.solver.stepSize: Too small: expected number to be >0']);
    expect(issues(withSolver({ method: 'rk4', stepSize: 0.05, maxSteps: -5 }))).toEqual(['model.solver.maxSteps: Too small: expected number to be >0']);
    expect(issues(withSolver({ method: 'dopri5', rtol: -1 }))).toEqual(['model.solver.rtol: Too small: expected number to be >0']);
    expect(issues(withSolver({ method: 'dopri5', atol: Infinity }))).toHaveLength(1);
    // Other fields' issues do not hide a step count that does not fit.
    expect(issues({ ...withSolver({ method: 'euler', stepSize: 0.05, maxSteps: 10 }), epochs: 0 })).toEqual([
      'epochs: Too small: expected number to be >0',
      'model.solver.maxSteps: euler with stepSize 0.05 needs 20 steps over [0, 1]; maxSteps is 10: raise maxSteps to 20 or more, or the step size',
    ]);
  });
});

describe('RunConfig: tolerances within float32', () => {
  it('refuses a tolerance that is ∞ or 0 in float32, on its field', () => {
    expect(issues(withSolver({ method: 'dopri5', rtol: 1e300, atol: 1e-3 }))).toEqual([
      "model.solver.rtol: 1e+300 is beyond float32 (the solver's error norm is float32, at most 3.4e38)",
    ]);
    expect(issues(withSolver({ method: 'tsit5', adjointAtol: 1e-300 }))[0]).toMatch(/^model\.solver\.adjointAtol: 1e-300 is below float32's range/);
    expect(RunConfig.safeParse(withSolver({ method: 'dopri5', rtol: 3e38, atol: 1.2e-38 })).success).toBe(true);
  });
});

describe('RunConfig: momentum is SGD’s', () => {
  it('refuses a momentum with adam or adamw, and takes it with SGD', () => {
    for (const kind of ['adam', 'adamw']) {
      expect(issues({ ...shapes, optimizer: { kind, momentum: 0.9 } })).toEqual([
        `optimizer.momentum: only SGD uses momentum; ${kind} has its own moment estimates (beta1, beta2): remove momentum 0.9`,
      ]);
    }
    // Adam by default: the kind need not be given.
    expect(issues({ ...shapes, optimizer: { kind: undefined, momentum: 0.5 } })[0]).toMatch(/^optimizer\.momentum: .* adam /);
    expect(RunConfig.parse({ ...shapes, optimizer: { kind: 'sgd', momentum: 0.9 } }).optimizer.momentum).toBe(0.9);
    // 0 is no momentum, and what every parsed (so every stored) adam config carries.
    expect(RunConfig.parse({ ...shapes, optimizer: { kind: 'adam', momentum: 0 } }).optimizer.momentum).toBe(0);
  });
});

describe('readStoredConfig', () => {
  /** A config as the store holds it: parsed (defaults filled in), then JSON. */
  const stored = (config: unknown) => JSON.parse(JSON.stringify(config)) as Record<string, unknown>;

  it('reads every preset as stored back to the same config', () => {
    for (const [name, preset] of Object.entries(PRESETS)) {
      const config = RunConfig.parse(preset.config);
      expect(readStoredConfig(stored(config)), name).toEqual(config);
    }
  });

  it('still reads runs stored before these checks, which RunConfig now refuses', () => {
    const base = stored(RunConfig.parse(shapes));
    const old = [
      // A run that failed MAX_STEPS on its first batch.
      { ...base, model: { ...(base.model as object), solver: { method: 'euler', stepSize: 0.05, maxSteps: 10 } } },
      // A run that spun on NaN step sizes.
      { ...base, model: { ...(base.model as object), solver: { method: 'dopri5', rtol: 1e300, atol: 1e300 } } },
    ];
    for (const config of old) {
      expect(RunConfig.safeParse(config).success).toBe(false);
      expect(readStoredConfig(config)?.model.solver).toMatchObject(config.model.solver);
    }
  });

  it('reads a run stored before testSize as it was (the whole test split), and one with it back to the same config', () => {
    const before = stored(RunConfig.parse({ ...shapes, trainSize: 1350 }));
    const read = readStoredConfig(before);
    expect(read).toEqual(before);
    expect(read).not.toHaveProperty('testSize');
    const withTestSize = stored(RunConfig.parse({ ...shapes, testSize: 600 }));
    expect(readStoredConfig(withTestSize)).toEqual(withTestSize);
    expect(readStoredConfig({ ...withTestSize, testSize: 0 })).toBeUndefined();
    expect(issues({ ...shapes, testSize: 2.5 })).toEqual(['testSize: Invalid input: expected int, received number']);
  });

  it("reads an adam run's stored momentum (taken from --config files before) as 0: adam never used it", () => {
    const config = stored(RunConfig.parse({ ...shapes, optimizer: { kind: 'adamw', lr: 0.01 } }));
    const withMomentum = { ...config, optimizer: { ...(config.optimizer as object), momentum: 0.9 } };
    expect(readStoredConfig(withMomentum)).toEqual(RunConfig.parse(config));
    // An SGD run keeps its momentum; a value the schema never took stays unreadable.
    const sgd = stored(RunConfig.parse({ ...shapes, optimizer: { kind: 'sgd', momentum: 0.9 } }));
    expect(readStoredConfig(sgd)?.optimizer.momentum).toBe(0.9);
    expect(readStoredConfig({ ...config, optimizer: { ...(config.optimizer as object), momentum: 5 } })).toBeUndefined();
  });
});

describe('droppedKeys and misshapenFields', () => {
  it("takes only own keys for settings: '__proto__', 'constructor' and 'toString' are not", () => {
    const parsed = RunConfig.parse(shapes);
    const input = JSON.parse('{"__proto__":{"epochs":7},"constructor":1,"optimizer":{"toString":2},"epochs":3}') as Record<string, unknown>;
    expect(droppedKeys(input, parsed)).toEqual([['__proto__'], ['constructor'], ['optimizer', 'toString']]);
  });

  it('finds every field RunConfig has as an object that holds something else, at every depth', () => {
    expect(misshapenFields({ model: 'mlp', optimizer: { kind: 'sgd' }, dataset: [], epochs: 'x', extra: 'y' })).toEqual([
      { path: ['model'], found: 'mlp' },
      { path: ['dataset'], found: [] },
    ]);
    expect(misshapenFields({ model: { name: 'mlp', solver: null } })).toEqual([{ path: ['model', 'solver'], found: null }]);
    // Each dataset kind is an object; a tuple (sizeRange) is not one.
    expect(misshapenFields({ dataset: { kind: 'shapes', sizeRange: 'big' }, optimizer: 3 })).toEqual([{ path: ['optimizer'], found: 3 }]);
    for (const preset of Object.values(PRESETS)) expect(misshapenFields(preset.config)).toEqual([]);
    expect(misshapenFields(JSON.parse('{"__proto__":"x"}'))).toEqual([]);
  });
});
