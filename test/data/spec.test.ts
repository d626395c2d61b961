import { describe, expect, it } from 'vitest';
import { defaultDataDir } from '../../src-main/data/index';
import { appDataDir } from '../../src-main/data/dataDir';
import { DatasetSpec, describeIssues } from '../../src-shared/config';

function issues(input: unknown): string {
  const r = DatasetSpec.safeParse(input);
  if (r.success) throw new Error('expected the spec to be rejected');
  return describeIssues(r.error);
}

describe('DatasetSpec', () => {
  it('fills defaults for each kind', () => {
    expect(DatasetSpec.parse({ kind: 'mnist' })).toEqual({ kind: 'mnist', subsetSeed: 0 });
    const shapes = DatasetSpec.parse({ kind: 'shapes' });
    expect(shapes).toMatchObject({ kind: 'shapes', mode: 'single', trainCount: 2700, testCount: 6000, seed: 0, imageSize: 28, noise: 0 });
  });

  it('gives field-level errors', () => {
    expect(issues({ kind: 'cifar' })).toMatch(/^kind: /);
    expect(issues({ kind: 'shapes', mode: 'triple' })).toMatch(/^mode: /);
    expect(issues({ kind: 'shapes', imageSize: 4.5 })).toMatch(/^imageSize: /);
    expect(issues({ kind: 'shapes', aspectRange: [1, 0.5] })).toBe('aspectRange: min must not exceed max');
    expect(issues({ kind: 'mnist', trainSubset: -3 })).toMatch(/^trainSubset: /);
  });

  it('checks cross-field constraints: pairs must fit, a subset cannot exceed the split', () => {
    expect(issues({ kind: 'shapes', mode: 'compound', imageSize: 12, pairSizeRange: [0.4, 0.5], minGap: 4 })).toBe(
      'pairSizeRange: two shapes of 6.0 px with a 4 px gap do not fit in 12 px',
    );
    expect(DatasetSpec.safeParse({ kind: 'shapes', mode: 'single', imageSize: 12, pairSizeRange: [0.4, 0.5], minGap: 4 }).success).toBe(true);
    expect(issues({ kind: 'shapes', trainCount: 100, trainSubset: 500 })).toBe('trainSubset: subset of 500 is larger than trainCount 100');
  });
});

describe('defaultDataDir', () => {
  it('prefers ODELAB_DATA_DIR, which moves the datasets and not the lab\'s app-data folder (where the run store is)', () => {
    expect(defaultDataDir({ ODELAB_DATA_DIR: '/srv/odelab' }, 'linux', '/home/u')).toBe('/srv/odelab');
    expect(appDataDir({ ODELAB_DATA_DIR: '/srv/odelab' }, 'linux', '/home/u')).toBe('/home/u/.local/share/neural-ode-lab');
  });

  it('follows each platform’s app-data convention', () => {
    expect(defaultDataDir({}, 'linux', '/home/u')).toBe('/home/u/.local/share/neural-ode-lab/datasets');
    expect(defaultDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux', '/home/u')).toBe('/xdg/neural-ode-lab/datasets');
    expect(defaultDataDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Application Support/neural-ode-lab/datasets');
    expect(defaultDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u')).toBe(
      'C:\\Users\\u\\AppData\\Roaming\\neural-ode-lab\\datasets',
    );
  });
});
