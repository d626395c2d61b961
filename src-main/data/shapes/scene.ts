/**
 * One shapes image: sample each shape's size, position, rotation and style from the image's own RNG stream,
 * draw it, then quantise to bytes (plus optional pixel noise). The order of RNG draws is part of the format:
 * changing it changes every dataset, so bump GENERATOR_VERSION (cache.ts) when it does.
 */
import { PAIR_CLEARANCE_PX, type ShapesSpec } from '../../../src-shared/config';
import { drawCircle, drawConvexPolygon, type Canvas, type Style } from './raster';
import type { Rng } from './rng';
import { shapesForLabel, type ShapeType } from './classes';

/** Triangle vertices sit on their circumcircle 120° ± this apart, so triangles vary beyond equilateral. */
const TRIANGLE_VERTEX_JITTER = (20 * Math.PI) / 180;
/** Random placements tried for a pair before falling back to opposite corners (always valid, see config). */
const PAIR_TRIES = 64;

interface Placed {
  type: ShapeType;
  cx: number;
  cy: number;
  /** Radius of the circle the shape is inscribed in. */
  r: number;
}

/** Rounds trig results to 1/256 px so a last-bit difference in Math.sin/cos cannot change a byte. */
function q(v: number): number {
  return Math.round(v * 256) / 256;
}

export function renderImage(spec: ShapesSpec, label: number, rng: Rng, canvas: Canvas, out: Uint8Array, offset: number): void {
  canvas.cov.fill(0);
  const types = shapesForLabel(spec.mode, label);
  const placed = types.length === 2 ? placePair(spec, types, rng) : types.map((t) => placeSingle(spec, t, rng));
  for (const p of placed) drawShape(spec, p, rng, canvas);
  quantise(spec, canvas, rng, out, offset);
}

function placeSingle(spec: ShapesSpec, type: ShapeType, rng: Rng): Placed {
  const S = spec.imageSize;
  const r = (rng.uniform(spec.sizeRange[0], spec.sizeRange[1]) * S) / 2;
  const free = Math.max(0, S / 2 - r) * spec.positionJitter;
  return { type, r, cx: S / 2 + free * (2 * rng.next() - 1), cy: S / 2 + free * (2 * rng.next() - 1) };
}

/** Two shapes anywhere they fit, never closer than the clearance that keeps their inked pixels apart. */
function placePair(spec: ShapesSpec, types: readonly ShapeType[], rng: Rng): Placed[] {
  const S = spec.imageSize;
  const [ta, tb] = rng.next() < 0.5 ? [types[0], types[1]] : [types[1], types[0]];
  const ra = (rng.uniform(spec.pairSizeRange[0], spec.pairSizeRange[1]) * S) / 2;
  const rb = (rng.uniform(spec.pairSizeRange[0], spec.pairSizeRange[1]) * S) / 2;
  const sep = ra + rb + PAIR_CLEARANCE_PX + spec.minGap;
  for (let t = 0; t < PAIR_TRIES; t++) {
    const ax = rng.uniform(ra, S - ra), ay = rng.uniform(ra, S - ra);
    const bx = rng.uniform(rb, S - rb), by = rng.uniform(rb, S - rb);
    if ((ax - bx) ** 2 + (ay - by) ** 2 >= sep * sep) {
      return [{ type: ta, r: ra, cx: ax, cy: ay }, { type: tb, r: rb, cx: bx, cy: by }];
    }
  }
  const flip = rng.next() < 0.5; // which diagonal
  return [
    { type: ta, r: ra, cx: ra, cy: flip ? S - ra : ra },
    { type: tb, r: rb, cx: S - rb, cy: flip ? rb : S - rb },
  ];
}

function drawShape(spec: ShapesSpec, p: Placed, rng: Rng, canvas: Canvas): void {
  const outline = spec.fill === 'outline' || (spec.fill === 'mixed' && rng.next() < 0.5);
  const style: Style = { stroke: outline ? spec.strokeWidth : 0, antialias: spec.antialias };
  const theta = ((2 * rng.next() - 1) * spec.rotationJitter * Math.PI) / 180;
  if (p.type === 'circle') {
    drawCircle(canvas, p.cx, p.cy, p.r, style);
  } else if (p.type === 'triangle') {
    const a0 = theta - Math.PI / 2;
    const a1 = a0 + (2 * Math.PI) / 3 + (2 * rng.next() - 1) * TRIANGLE_VERTEX_JITTER;
    const a2 = a0 + (4 * Math.PI) / 3 + (2 * rng.next() - 1) * TRIANGLE_VERTEX_JITTER;
    const pts = [a0, a1, a2].flatMap((a) => [q(p.cx + p.r * Math.cos(a)), q(p.cy + p.r * Math.sin(a))]);
    drawConvexPolygon(canvas, pts, style);
  } else {
    // The rectangle's diagonal is the diameter, so its corners sit on the circle like the triangle's.
    const aspect = rng.uniform(spec.aspectRange[0], spec.aspectRange[1]);
    const hl = p.r / Math.sqrt(1 + aspect * aspect);
    const hw = aspect * hl;
    const c = Math.cos(theta), s = Math.sin(theta);
    const pts: number[] = [];
    for (const [u, v] of [[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]]) pts.push(q(p.cx + u * c - v * s), q(p.cy + u * s + v * c));
    drawConvexPolygon(canvas, pts, style);
  }
}

function quantise(spec: ShapesSpec, canvas: Canvas, rng: Rng, out: Uint8Array, offset: number): void {
  const cov = canvas.cov;
  const amp = spec.noise * 255;
  for (let i = 0; i < cov.length; i++) {
    let v = cov[i] * 255;
    if (amp > 0) v += amp * (2 * rng.next() - 1);
    out[offset + i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
}
