/**
 * Seeded PRNG: sfc32 (Chris Doty-Humphrey's small fast counting generator, passes PractRand), keyed by hashing
 * any number of 32-bit integers. Pure 32-bit integer arithmetic, so every machine draws the same numbers;
 * floats are k / 2³², exact in a double.
 */

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combines keys into 32 bits; order matters, so (seed, split, index) streams are all distinct. */
export function hashKeys(keys: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const k of keys) h = fmix32((h ^ fmix32((k >>> 0) + 0x7f4a7c15)) + 0x632be5ab);
  return h;
}

export function createRng(...keys: number[]): Rng {
  const h = hashKeys(keys);
  // Distinct state words from the one hash; the counter d starts at 1 so the state is never all-zero.
  let a = fmix32(h ^ 0x243f6a88);
  let b = fmix32(h ^ 0x85a308d3);
  let c = fmix32(h ^ 0x13198a2e);
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32(); // sfc32's recommended warm-up
  const next = (): number => u32() / 4294967296;
  return {
    u32,
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(arr: T, rng: Rng): T {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}
