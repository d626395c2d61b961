import { describe, expect, it } from 'vitest';
import { isLabError } from '../../src-shared/errors';
import { downsampleM4 } from '../../src-main/store/downsample';
import { createRng } from '../../src-main/data/shapes/rng';

/** Seeded, so every run draws the same numbers: the project's PRNG (sfc32, as the shapes generator uses). */
const prng = (seed: number): (() => number) => createRng(seed).next;

interface P {
  x: number;
  y: number;
  i: number;
}

function series(n: number, rand: () => number, quantum = 0): P[] {
  let y = 0;
  return Array.from({ length: n }, (_, i) => {
    y += rand() - 0.5;
    return { x: i * 0.5 + 3, y: quantum ? Math.round(y / quantum) * quantum : y, i };
  });
}

/** Index of the earliest minimum (sign 1) or maximum (sign −1). */
function extremeIndex(ps: readonly P[], sign: 1 | -1): number {
  let best = 0;
  for (let i = 1; i < ps.length; i++) if (sign * ps[i].y < sign * ps[best].y) best = i;
  return best;
}

describe('downsampleM4', () => {
  it('returns a series that fits as it is (a copy)', () => {
    const ps = series(10, prng(1));
    const out = downsampleM4(ps, 10);
    expect(out).toEqual(ps);
    expect(out).not.toBe(ps);
    expect(downsampleM4([], 4)).toEqual([]);
  });

  it('refuses fewer than 4 points, or a non-integer budget, with INVALID_ARGUMENT', () => {
    for (const bad of [3, 0, -1, 4.5, Number.NaN]) {
      let error: unknown;
      try {
        downsampleM4(series(10, prng(2)), bad);
      } catch (e) {
        error = e;
      }
      expect(isLabError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toMatch(/^INVALID_ARGUMENT: maxPoints: expected an integer of at least 4/);
    }
  });

  it('keeps at most maxPoints points, in order, and every equal-count group’s first, min, max and last', () => {
    const rand = prng(3);
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + Math.floor(rand() * 3000);
      const maxPoints = 4 + Math.floor(rand() * 200);
      const ps = series(n, rand, trial % 2 ? 0.25 : 0); // quantised values: many ties
      const out = downsampleM4(ps, maxPoints);
      expect(out.length).toBeLessThanOrEqual(maxPoints);
      for (let k = 1; k < out.length; k++) expect(out[k].i).toBeGreaterThan(out[k - 1].i);
      const kept = new Set(out.map((p) => p.i));
      expect(kept.has(0) && kept.has(n - 1)).toBe(true);
      // The global extremes are the earliest ones, as a scan of the whole series finds them.
      expect(kept.has(extremeIndex(ps, 1))).toBe(true);
      expect(kept.has(extremeIndex(ps, -1))).toBe(true);
      if (n <= maxPoints) {
        expect(out).toHaveLength(n);
        continue;
      }
      const groups = Math.floor(maxPoints / 4);
      for (let g = 0; g < groups; g++) {
        const group = ps.slice(Math.floor((g * n) / groups), Math.floor(((g + 1) * n) / groups));
        const inGroup = out.filter((p) => p.i >= group[0].i && p.i <= group[group.length - 1].i);
        expect(inGroup[0]).toBe(group[0]);
        expect(inGroup[inGroup.length - 1]).toBe(group[group.length - 1]);
        expect(inGroup).toContain(group[extremeIndex(group, 1)]);
        expect(inGroup).toContain(group[extremeIndex(group, -1)]);
        expect(inGroup.length).toBeLessThanOrEqual(4);
      }
    }
  });

  it('keeps a one-point spike in a long flat series, and two points per group of a constant one', () => {
    const flat = Array.from({ length: 100_000 }, (_, i) => ({ x: i, y: 1, i }));
    flat[77_777] = { x: 77_777, y: 50, i: 77_777 };
    const out = downsampleM4(flat, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.map((p) => p.y)).toContain(50);
    expect(out.find((p) => p.y === 50)!.x).toBe(77_777);
    const constant = downsampleM4(
      Array.from({ length: 1000 }, (_, i) => ({ x: i, y: 0 })),
      40,
    );
    expect(constant).toHaveLength(20); // first (also min and max) and last of each of the 10 groups
  });
});
