/** Pixel statistics the shapes tests use to check what was drawn, independently of how it was drawn. */

/** Connected components of pixels with value > threshold (8-connectivity); each is a list of pixel indices. */
export function components(img: Uint8Array, size: number, threshold = 0): number[][] {
  const seen = new Uint8Array(img.length);
  const out: number[][] = [];
  for (let start = 0; start < img.length; start++) {
    if (seen[start] || img[start] <= threshold) continue;
    const comp: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const p = stack.pop() as number;
      comp.push(p);
      const x = p % size, y = (p - x) / size;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
          const q = ny * size + nx;
          if (!seen[q] && img[q] > threshold) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    out.push(comp);
  }
  return out;
}

/**
 * Ink area over the area of the smallest enclosing rectangle at any angle (1° steps). Rectangles fill their
 * own rectangle (≈ 1), circles π/4 ≈ 0.785, and any triangle exactly ½ of its minimum-area rectangle.
 */
export function rectangularity(img: Uint8Array, size: number, pixels: number[]): number {
  let mass = 0;
  for (const p of pixels) mass += img[p] / 255;
  let best = Infinity;
  for (let deg = 0; deg < 90; deg++) {
    const c = Math.cos((deg * Math.PI) / 180), s = Math.sin((deg * Math.PI) / 180);
    let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    for (const p of pixels) {
      // An edge pixel of ink a has the edge (a − ½) px beyond its centre: extents to sub-pixel precision.
      const reach = img[p] / 255 - 0.5;
      const x = (p % size) + 0.5, y = Math.floor(p / size) + 0.5;
      const u = x * c + y * s, v = -x * s + y * c;
      u0 = Math.min(u0, u - reach); u1 = Math.max(u1, u + reach); v0 = Math.min(v0, v - reach); v1 = Math.max(v1, v + reach);
    }
    best = Math.min(best, (u1 - u0) * (v1 - v0));
  }
  return mass / best;
}

/** Nearest ideal rectangularity: triangle ½, circle π/4, rectangle 1. */
export function classifyShape(r: number): 'triangle' | 'circle' | 'rectangle' {
  const ideals = [['triangle', 0.5], ['circle', Math.PI / 4], ['rectangle', 1]] as const;
  return ideals.reduce((a, b) => (Math.abs(r - b[1]) < Math.abs(r - a[1]) ? b : a))[0];
}
