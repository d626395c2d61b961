import { describe, expect, it } from 'vitest';
import { configDiff, flattenConfig } from '../../src-main/store/config-diff';
import { PRESETS } from '../../src-shared/presets';
import { RunConfig } from '../../src-shared/run-config';

const preset = (name: string): Record<string, unknown> => RunConfig.parse(PRESETS[name].config);

describe('flattenConfig', () => {
  it('names leaves by dotted path; arrays and empty objects are leaves', () => {
    const flat = flattenConfig({ a: 1, b: { c: { d: 'x' }, e: [1, 2] }, f: null, g: {} });
    expect([...flat]).toEqual([
      ['a', 1],
      ['b.c.d', 'x'],
      ['b.e', [1, 2]],
      ['f', null],
      ['g', {}],
    ]);
  });
});

describe('configDiff', () => {
  it('finds the solver fields two shapes presets differ in', () => {
    const euler = preset('shapes-euler');
    const implicit = RunConfig.parse({
      ...PRESETS['shapes-euler'].config,
      model: { name: 'shapes-odenet', solver: { method: 'implicit-euler', stepSize: 0.1 } },
    });
    expect(configDiff([euler, implicit])).toEqual([
      { path: 'model.solver.method', values: ['euler', 'implicit-euler'] },
      { path: 'model.solver.stepSize', values: [0.05, 0.1] },
    ]);
  });

  it('returns nothing for identical configs', () => {
    expect(configDiff([preset('mnist-odenet'), preset('mnist-odenet'), preset('mnist-odenet')])).toEqual([]);
    expect(configDiff([preset('shapes-euler')])).toEqual([]);
    expect(configDiff([])).toEqual([]);
  });

  it('sorts by path and covers every field that differs between unlike presets', () => {
    const diff = configDiff([preset('shapes-euler'), preset('fashion-convnode')]);
    const paths = diff.map((d) => d.path);
    expect(paths).toEqual([...paths].sort());
    expect(paths).toEqual(expect.arrayContaining(['name', 'model.name', 'model.solver.method', 'optimizer.kind', 'dataset.kind', 'batchSize']));
    expect(paths).not.toContain('seed');
    // Fields only the shapes dataset has are undefined in the Fashion-MNIST config.
    expect(diff.find((d) => d.path === 'dataset.mode')?.values).toEqual(['compound', undefined]);
    // Only fashion-convnode sets tolerances; shapes-euler sets a step size.
    expect(diff.find((d) => d.path === 'model.solver.rtol')?.values).toEqual([undefined, 1e-3]);
    expect(diff.find((d) => d.path === 'model.solver.stepSize')?.values).toEqual([0.05, undefined]);
  });

  it('compares arrays as whole values', () => {
    const a = preset('shapes-euler');
    const b = RunConfig.parse({ ...PRESETS['shapes-euler'].config, dataset: { ...PRESETS['shapes-euler'].config.dataset, sizeRange: [0.5, 0.8] } });
    expect(configDiff([a, b])).toEqual([{ path: 'dataset.sizeRange', values: [[0.45, 0.8], [0.5, 0.8]] }]);
    expect(configDiff([{ x: [{ a: 1, b: 2 }] }, { x: [{ b: 2, a: 1 }] }])).toEqual([]);
  });

  it('counts a missing key as undefined, distinct from null', () => {
    expect(configDiff([{ a: 1 }, { a: 1, b: 2 }, { a: 1, b: null }])).toEqual([{ path: 'b', values: [undefined, 2, null] }]);
    expect(configDiff([{ a: undefined }, {}])).toEqual([]);
  });

  it('reports a value that is an object in one config and a leaf in another under both paths', () => {
    expect(configDiff([{ s: 3 }, { s: { t: 3 } }])).toEqual([
      { path: 's', values: [3, undefined] },
      { path: 's.t', values: [undefined, 3] },
    ]);
  });
});
