/**
 * M4 downsampling (Jugel et al., "M4: a visualization-oriented time series data aggregation", VLDB 2014): split a
 * series into groups and keep each group's first, minimum, maximum and last point. A line chart drawn from those
 * points has the same extent in every group as one drawn from all of them, which is what a chart of a
 * 100 000-step loss curve needs; unlike LTTB it never loses a spike.
 *
 * Groups hold equal counts of points rather than equal spans of x:
 * - the selection does not depend on the x axis, so one series is downsampled once and then shown against steps,
 *   epochs or wall seconds (all monotonic in the step);
 * - uneven x spacing (a pause for an evaluation on the wall axis, gaps in the steps) cannot leave groups empty and
 *   waste the point budget;
 * - for evenly spaced x (steps) equal counts are equal spans, the classic pixel-column M4.
 *
 * Pure functions: no SQLite here.
 */
import { LabError } from '../../src-shared/errors';

export interface XY {
  x: number;
  y: number;
}

/** Throws INVALID_ARGUMENT unless `maxPoints` is an integer ≥ 4 (M4 keeps up to 4 points per group). */
export function assertMaxPoints(maxPoints: unknown, field = 'maxPoints'): asserts maxPoints is number {
  if (typeof maxPoints !== 'number' || !Number.isInteger(maxPoints) || maxPoints < 4) {
    throw new LabError('INVALID_ARGUMENT', `${field}: expected an integer of at least 4 (M4 keeps up to 4 points per group), got ${String(maxPoints)}`, {
      field,
      got: typeof maxPoints === 'number' ? maxPoints : String(maxPoints),
    });
  }
}

/**
 * Downsamples `points` (sorted by x) to at most `maxPoints`: ⌊maxPoints/4⌋ groups of equal count (±1), each
 * contributing its first, minimum, maximum and last point in their original order, without duplicates. The
 * series' first, last, minimum and maximum points are always kept; among equal values the earliest point is the
 * minimum (or maximum), in each group as in the whole series, so the global extreme chosen is the same point a
 * scan of the whole series would choose. NaN values never count as a minimum or maximum. The points themselves are
 * returned (not copies), so extra fields such as a step travel along. A series that already fits is returned
 * whole (as a new array).
 */
export function downsampleM4<P extends XY>(points: readonly P[], maxPoints: number): P[] {
  assertMaxPoints(maxPoints);
  const n = points.length;
  if (n <= maxPoints) return points.slice();
  const groups = Math.floor(maxPoints / 4);
  const out: P[] = [];
  for (let g = 0; g < groups; g++) {
    const start = Math.floor((g * n) / groups);
    const end = Math.floor(((g + 1) * n) / groups); // exclusive; n > maxPoints ≥ 4·groups so every group has ≥ 4 points
    let iMin = start;
    let iMax = start;
    for (let i = start + 1; i < end; i++) {
      const y = points[i].y;
      if (y < points[iMin].y || Number.isNaN(points[iMin].y)) iMin = i;
      if (y > points[iMax].y || Number.isNaN(points[iMax].y)) iMax = i;
    }
    const last = end - 1;
    // first ≤ min, max ≤ last: emit the four indices in order, skipping repeats.
    const a = Math.min(iMin, iMax);
    const b = Math.max(iMin, iMax);
    out.push(points[start]);
    if (a !== start) out.push(points[a]);
    if (b !== a) out.push(points[b]);
    if (last !== b) out.push(points[last]);
  }
  return out;
}
