/**
 * What differs between run configs, for the comparison views: each config flattened to dotted paths
 * (`model.solver.rtol`), and only the paths whose values are not the same in every config.
 * Pure (no Node imports), so it can move to src-shared.
 */
import { isPlainObject } from '../../src-shared/config';

export interface ConfigDifference {
  /** Dotted path of a leaf: `model.solver.method`. */
  path: string;
  /** The value at `path` in each config, in the order given; `undefined` where a config lacks it. */
  values: unknown[];
}

/**
 * Leaves of `value` by dotted path. Non-empty objects are descended into; arrays (compared whole), empty objects,
 * null and primitives are leaves.
 */
export function flattenConfig(value: Record<string, unknown>, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(child) && Object.keys(child).length > 0) flattenConfig(child, path, into);
    else into.set(path, child);
  }
  return into;
}

/** JSON with object keys sorted, so leaves that are arrays of objects compare by content, not key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function allEqual(values: unknown[]): boolean {
  const first = canonicalJson(values[0]);
  return values.every((v) => canonicalJson(v) === first);
}

/** The paths whose values differ across `configs`, sorted by path (code-unit order). */
export function configDiff(configs: Record<string, unknown>[]): ConfigDifference[] {
  const flat = configs.map((c) => flattenConfig(c));
  const paths = new Set(flat.flatMap((f) => [...f.keys()]));
  return [...paths]
    .sort()
    .map((path) => ({ path, values: flat.map((f) => f.get(path)) }))
    .filter((d) => !allEqual(d.values));
}
