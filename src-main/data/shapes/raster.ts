/**
 * A small anti-aliased rasteriser for circles and convex polygons. Each pixel's ink is computed from the signed
 * distance d of its centre to the shape's edge (negative inside): coverage = clamp(½ − d, 0, 1), a one-pixel
 * linear ramp across the edge — cheap, smooth, and exact enough at 28 px. Outlines are a band of `stroke` pixels
 * inside the edge, so a shape's outline never reaches past its filled footprint. Only the shape's bounding box
 * is visited.
 *
 * Determinism: only + − × ÷ and √ (all correctly rounded in IEEE 754) touch the coordinates here; callers
 * quantise any trigonometry before drawing.
 */

export interface Canvas {
  size: number;
  /** Ink coverage 0–1 per pixel, row-major; shapes combine by max. */
  cov: Float32Array;
}

export interface Style {
  /** 0 = filled; otherwise the outline width in pixels. */
  stroke: number;
  antialias: boolean;
}

export function createCanvas(size: number): Canvas {
  return { size, cov: new Float32Array(size * size) };
}

function coverage(d: number, style: Style): number {
  // Distance to the band [−stroke, 0] for outlines, to the interior for fills.
  const e = style.stroke > 0 ? Math.max(d, -style.stroke - d) : d;
  if (!style.antialias) return e <= 0 ? 1 : 0;
  const v = 0.5 - e;
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

/** How far outside a shape a pixel centre can still receive ink. */
function reach(style: Style): number {
  return style.antialias ? 0.5 : 0;
}

function span(lo: number, hi: number, size: number): [number, number] {
  return [Math.max(0, Math.floor(lo - 1)), Math.min(size - 1, Math.ceil(hi + 1))];
}

export function drawCircle(canvas: Canvas, cx: number, cy: number, r: number, style: Style): void {
  const { size, cov } = canvas;
  const [x0, x1] = span(cx - r, cx + r, size);
  const [y0, y1] = span(cy - r, cy + r, size);
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      const c = coverage(Math.sqrt(dx * dx + dy * dy) - r, style);
      const i = y * size + x;
      if (c > cov[i]) cov[i] = c;
    }
  }
}

/** Draws a convex polygon given as [x0, y0, x1, y1, …] in pixel coordinates (either winding). */
export function drawConvexPolygon(canvas: Canvas, pts: readonly number[], style: Style): void {
  const { size, cov } = canvas;
  const n = pts.length / 2;
  let mx = 0;
  let my = 0;
  for (let k = 0; k < n; k++) {
    mx += pts[2 * k] / n;
    my += pts[2 * k + 1] / n;
  }
  // Per edge: start point, edge vector, unit outward normal (pointing away from the centroid).
  const ax = new Float64Array(n), ay = new Float64Array(n), ex = new Float64Array(n), ey = new Float64Array(n);
  const nx = new Float64Array(n), ny = new Float64Array(n);
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let k = 0; k < n; k++) {
    const x = pts[2 * k], y = pts[2 * k + 1];
    const x2 = pts[(2 * k + 2) % (2 * n)], y2 = pts[(2 * k + 3) % (2 * n)];
    ax[k] = x; ay[k] = y; ex[k] = x2 - x; ey[k] = y2 - y;
    const len = Math.sqrt(ex[k] * ex[k] + ey[k] * ey[k]);
    let ux = ey[k] / len, uy = -ex[k] / len;
    if (ux * (mx - x) + uy * (my - y) > 0) { ux = -ux; uy = -uy; }
    nx[k] = ux; ny[k] = uy;
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const far = reach(style);
  const [x0, x1] = span(minX, maxX, size);
  const [y0, y1] = span(minY, maxY, size);
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      // Inside a convex polygon the distance to the edge is the largest (least negative) edge-line distance.
      let d = -Infinity;
      for (let k = 0; k < n; k++) d = Math.max(d, (px - ax[k]) * nx[k] + (py - ay[k]) * ny[k]);
      if (d > far) continue; // the true distance is at least d: no ink
      if (d > 0) d = outsideDistance(px, py, ax, ay, ex, ey);
      const c = coverage(d, style);
      const i = y * size + x;
      if (c > cov[i]) cov[i] = c;
    }
  }
}

/** Exact distance to the nearest edge segment (outside, lines alone would give mitred, too-long corners). */
function outsideDistance(px: number, py: number, ax: Float64Array, ay: Float64Array, ex: Float64Array, ey: Float64Array): number {
  let best = Infinity;
  for (let k = 0; k < ax.length; k++) {
    const wx = px - ax[k], wy = py - ay[k];
    let t = (wx * ex[k] + wy * ey[k]) / (ex[k] * ex[k] + ey[k] * ey[k]);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const dx = wx - t * ex[k], dy = wy - t * ey[k];
    best = Math.min(best, dx * dx + dy * dy);
  }
  return Math.sqrt(best);
}
