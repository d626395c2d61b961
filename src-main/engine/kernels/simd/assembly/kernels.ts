// AssemblyScript (compiled by `npm run build:kernels`, not by tsc): WebAssembly SIMD loops that run on the
// heap of tfjs's own wasm backend. Every pointer is a byte offset into that heap; the caller (../simd-module.ts)
// allocates inputs, outputs and a scratch block there; float arrays are 4-byte aligned (wasm needs no more).
// The module has no data segment and no allocator of its own: it must never write outside what it is given.

// ---------------------------------------------------------------------------------------------------------------
// Elementwise: the Runge–Kutta stage combinations and the controller's error norm.

/**
 * out[i] = Σⱼ coeffs[j]·terms[j][i] for `count` terms of `length` floats. `table` holds `count` term pointers
 * (i32) followed by `count` f32 coefficients. Each product is rounded to f32 and the sum runs in term order, as
 * tfjs's Mul-then-AddN did, so results are unchanged; one pass instead of count + 1.
 */
export function linearCombination(out: usize, table: usize, count: i32, length: i32): void {
  const coeffs = table + (<usize>count << 2);
  const vectorEnd = length & ~3;
  for (let i = 0; i < vectorEnd; i += 4) {
    const offset = <usize>i << 2;
    let acc = f32x4.mul(v128.load(load<usize>(table) + offset), f32x4.splat(load<f32>(coeffs)));
    for (let j = 1; j < count; j++) {
      const term = v128.load(load<usize>(table + (<usize>j << 2)) + offset);
      acc = f32x4.add(acc, f32x4.mul(term, f32x4.splat(load<f32>(coeffs + (<usize>j << 2)))));
    }
    v128.store(out + offset, acc);
  }
  for (let i = vectorEnd; i < length; i++) {
    const offset = <usize>i << 2;
    let acc: f32 = load<f32>(load<usize>(table) + offset) * load<f32>(coeffs);
    for (let j = 1; j < count; j++) {
      acc += load<f32>(load<usize>(table + (<usize>j << 2)) + offset) * load<f32>(coeffs + (<usize>j << 2));
    }
    store<f32>(out + offset, acc);
  }
}

/**
 * Σ (x / (atol + rtol·max(|a|, |b|)))² over `length` floats: the step-size controller's squared error norm
 * (pass a = b for a single reference). Quotients are f32 like the tfjs ops they replace; sums run in f32 over
 * blocks of 1024 floats and in f64 across blocks, so long states do not lose small terms. NaN propagates.
 */
export function scaledSumSquares(x: usize, a: usize, b: usize, length: i32, rtol: f32, atol: f32): f64 {
  const vr = f32x4.splat(rtol);
  const va = f32x4.splat(atol);
  const vectorEnd = length & ~3;
  let total: f64 = 0;
  for (let block = 0; block < vectorEnd; block += 1024) {
    const end = min(block + 1024, vectorEnd);
    let acc = f32x4.splat(0);
    for (let i = block; i < end; i += 4) {
      const offset = <usize>i << 2;
      const ref = f32x4.max(f32x4.abs(v128.load(a + offset)), f32x4.abs(v128.load(b + offset)));
      const q = f32x4.div(v128.load(x + offset), f32x4.add(va, f32x4.mul(vr, ref)));
      acc = f32x4.add(acc, f32x4.mul(q, q));
    }
    total += <f64>(f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
      <f64>(f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  }
  for (let i = vectorEnd; i < length; i++) {
    const offset = <usize>i << 2;
    const ref = max(abs(load<f32>(a + offset)), abs(load<f32>(b + offset)));
    const q: f32 = load<f32>(x + offset) / (atol + rtol * ref);
    total += <f64>(q * q);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// GroupNorm over channels-last data: x is [n, s positions, c channels] per call, groups divide c.
//
// A sample is contiguous, so it is walked as vectors in periods of P = lcm(c, 4) floats: lane l of a period
// always holds channel l mod c. Per-channel work then becomes per-lane work on P-float "pattern" arrays in the
// scratch block (sums gathered lane-wise, scales applied lane-wise) and folds to channels at the end. A sample
// whose length is not a multiple of P ends in a scalar tail.

function gcd(a: i32, b: i32): i32 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Floats in one period of channel lanes: lcm(c, 4). */
function period(c: i32): i32 {
  return (c * 4) / gcd(c, 4);
}

/** Bytes of scratch the GroupNorm kernels need for c channels in `groups` groups (16 for aligning the start). */
export function groupNormScratchBytes(c: i32, groups: i32): i32 {
  return 16 + PATTERNS * (period(c) << 2) + CHANNEL_ARRAYS * (c << 3) + GROUP_ARRAYS * (groups << 3);
}

// Scratch layout: f32 pattern arrays of P lanes, then f64 arrays of c channels, then f64 arrays of `groups`
// entries. Each pattern is P·4 bytes, a multiple of 16, so patterns stay 16-byte aligned (faster v128 access).
const PATTERNS = 5;
const CHANNEL_ARRAYS = 7;
const GROUP_ARRAYS = 2;
@inline function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}
@inline function patternArray(scratch: usize, c: i32, k: i32): usize {
  return align16(scratch) + <usize>(k * (period(c) << 2));
}
@inline function channelArray(scratch: usize, c: i32, k: i32): usize {
  return patternArray(scratch, c, PATTERNS) + <usize>(k * (c << 3));
}
@inline function groupArray(scratch: usize, c: i32, groups: i32, k: i32): usize {
  return channelArray(scratch, c, CHANNEL_ARRAYS) + <usize>(k * (groups << 3));
}

@inline function loadF64(array: usize, i: i32): f64 {
  return load<f64>(array + (<usize>i << 3));
}
@inline function storeF64(array: usize, i: i32, v: f64): void {
  store<f64>(array + (<usize>i << 3), v);
}
@inline function loadF32(array: usize, i: i32): f32 {
  return load<f32>(array + (<usize>i << 2));
}
@inline function storeF32(array: usize, i: i32, v: f32): void {
  store<f32>(array + (<usize>i << 2), v);
}

/** Fills pattern lanes [0, P) from per-channel f64 values (lane l gets channel l mod c). */
function fillPattern(pattern: usize, values: usize, c: i32): void {
  const p = period(c);
  for (let l = 0; l < p; l++) storeF32(pattern, l, <f32>loadF64(values, l % c));
}

/**
 * Lane-wise Σ a and Σ a·b over a sample, with b = x − shift and a = b (forward: `uIsX`) or a = u (backward: dy).
 * Sums of x − shift, not of x, so they do not cancel when |mean| ≫ std. Results land in sumPattern and
 * productPattern; a scalar tail is added lane-wise as well.
 */
function laneSums(
  u: usize, x: usize, uIsX: bool, length: i32, c: i32, shiftPattern: usize, sumPattern: usize, productPattern: usize,
): void {
  const p = period(c);
  for (let l = 0; l < p; l += 4) {
    v128.store(sumPattern + (<usize>l << 2), f32x4.splat(0));
    v128.store(productPattern + (<usize>l << 2), f32x4.splat(0));
  }
  const whole = length - (length % p);
  for (let start = 0; start < whole; start += p) {
    for (let l = 0; l < p; l += 4) {
      const lane = <usize>l << 2;
      const offset = (<usize>(start + l)) << 2;
      const b = f32x4.sub(v128.load(x + offset), v128.load(shiftPattern + lane));
      const a = uIsX ? b : v128.load(u + offset);
      v128.store(sumPattern + lane, f32x4.add(v128.load(sumPattern + lane), a));
      v128.store(productPattern + lane, f32x4.add(v128.load(productPattern + lane), f32x4.mul(a, b)));
    }
  }
  for (let i = whole; i < length; i++) {
    const l = i - whole;
    const b = loadF32(x, i) - loadF32(shiftPattern, l);
    const a = uIsX ? b : loadF32(u, i);
    storeF32(sumPattern, l, loadF32(sumPattern, l) + a);
    storeF32(productPattern, l, loadF32(productPattern, l) + a * b);
  }
}

/**
 * out = [u·p +] ((x − shift) − δ)·q + o lane-wise for a whole sample, where δ = mean − shift: x − mean without
 * rounding the mean to f32 first (the difference stays exact where the mean is large and the spread small).
 * Forward: no u, q = rstd·γ, o = β. Backward: u = dy.
 */
function affine(
  out: usize, u: usize, hasU: bool, x: usize, length: i32, c: i32,
  pPattern: usize, shiftPattern: usize, deltaPattern: usize, qPattern: usize, oPattern: usize,
): void {
  const p = period(c);
  const whole = length - (length % p);
  for (let start = 0; start < whole; start += p) {
    for (let l = 0; l < p; l += 4) {
      const lane = <usize>l << 2;
      const offset = (<usize>(start + l)) << 2;
      const centred = f32x4.sub(f32x4.sub(v128.load(x + offset), v128.load(shiftPattern + lane)), v128.load(deltaPattern + lane));
      let r = f32x4.add(f32x4.mul(centred, v128.load(qPattern + lane)), v128.load(oPattern + lane));
      if (hasU) r = f32x4.add(f32x4.mul(v128.load(u + offset), v128.load(pPattern + lane)), r);
      v128.store(out + offset, r);
    }
  }
  for (let i = whole; i < length; i++) {
    const l = i - whole;
    const centred = loadF32(x, i) - loadF32(shiftPattern, l) - loadF32(deltaPattern, l);
    let r = centred * loadF32(qPattern, l) + loadF32(oPattern, l);
    if (hasU) r = loadF32(u, i) * loadF32(pPattern, l) + r;
    storeF32(out, i, r);
  }
}

/** Folds lane sums into per-channel f64 sums: channel ch collects lanes ch, ch + c, … < P. */
function foldLanes(pattern: usize, channels: usize, c: i32): void {
  const p = period(c);
  for (let ch = 0; ch < c; ch++) {
    let total: f64 = 0;
    for (let l = ch; l < p; l += c) total += <f64>loadF32(pattern, l);
    storeF64(channels, ch, total);
  }
}

/**
 * y = (x − μ)·rstd·γ + β per (sample, group), PyTorch semantics (biased variance, ε inside the root); also
 * writes, for the gradient, [n, groups] arrays of rstd and of μ − (the group's first value in the sample). Sums
 * are shifted by the sample's first value of each channel so they do not cancel when |mean| ≫ std; channels merge
 * into their group with the parallel-variance formula in f64.
 */
export function groupNormForward(
  x: usize, gamma: usize, beta: usize, y: usize, meanOut: usize, rstdOut: usize,
  n: i32, s: i32, c: i32, groups: i32, epsilon: f64, scratch: usize,
): void {
  const perGroup = c / groups;
  const count = <f64>(s * perGroup);
  const sample = s * c;
  const shiftPattern = patternArray(scratch, c, 0);
  const sumPattern = patternArray(scratch, c, 1);
  const squarePattern = patternArray(scratch, c, 2);
  const scalePattern = patternArray(scratch, c, 3);
  const deltaPattern = sumPattern; // the pattern arrays of the sums are free again once folded
  const betaPattern = squarePattern;
  const shift = channelArray(scratch, c, 0);
  const sum = channelArray(scratch, c, 1); // Σ (x − shift), then μ − shift
  const squares = channelArray(scratch, c, 2); // Σ (x − shift)², then rstd·γ
  const betas = channelArray(scratch, c, 3);
  const groupMean = groupArray(scratch, c, groups, 0);
  const groupRstd = groupArray(scratch, c, groups, 1);
  for (let ch = 0; ch < c; ch++) storeF64(betas, ch, <f64>loadF32(beta, ch));
  for (let i = 0; i < n; i++) {
    const xs = x + (<usize>(i * sample) << 2);
    for (let ch = 0; ch < c; ch++) storeF64(shift, ch, <f64>loadF32(xs, ch));
    fillPattern(shiftPattern, shift, c);
    laneSums(xs, xs, true, sample, c, shiftPattern, sumPattern, squarePattern);
    foldLanes(sumPattern, sum, c);
    foldLanes(squarePattern, squares, c);
    for (let g = 0; g < groups; g++) {
      let mu: f64 = 0;
      for (let ch = g * perGroup; ch < (g + 1) * perGroup; ch++) mu += loadF64(shift, ch) + loadF64(sum, ch) / <f64>s;
      mu /= <f64>perGroup;
      let m2: f64 = 0;
      for (let ch = g * perGroup; ch < (g + 1) * perGroup; ch++) {
        const sm = loadF64(sum, ch);
        const d = loadF64(shift, ch) + sm / <f64>s - mu;
        m2 += loadF64(squares, ch) - (sm * sm) / <f64>s + <f64>s * d * d;
      }
      const rstd = 1 / Math.sqrt(max(m2, 0) / count + epsilon);
      storeF64(groupMean, g, mu);
      storeF64(groupRstd, g, rstd);
      // The mean relative to the group's first value (x itself, exact in f32): an f32 mean would be off by
      // half an ulp of |μ|, much of the spread when |μ| ≫ std, and the gradient needs x − μ.
      storeF32(meanOut, i * groups + g, <f32>(mu - loadF64(shift, g * perGroup)));
      storeF32(rstdOut, i * groups + g, <f32>rstd);
    }
    for (let ch = 0; ch < c; ch++) {
      const g = ch / perGroup;
      storeF64(sum, ch, loadF64(groupMean, g) - loadF64(shift, ch));
      storeF64(squares, ch, loadF64(groupRstd, g) * <f64>loadF32(gamma, ch));
    }
    fillPattern(deltaPattern, sum, c);
    fillPattern(scalePattern, squares, c);
    fillPattern(betaPattern, betas, c);
    affine(y + (<usize>(i * sample) << 2), 0, false, xs, sample, c, 0, shiftPattern, deltaPattern, scalePattern, betaPattern);
  }
}

/**
 * With x̂ = (x − μ)·r over a group of m elements:
 *   dβ_c = Σ dy,  dγ_c = Σ dy·x̂,  dx = r·(γ·dy − mean_g(γ·dy) − x̂·mean_g(γ·dy·x̂)).
 * One pass gathers Σdy and Σdy·(x − shift) per channel (Σdy·x̂ = r·(Σdy·(x − shift) − (μ − shift)·Σdy)); the
 * second writes dx = dy·p + (x − μ)·q + o per channel. dγ and dβ sum over samples in f64.
 */
export function groupNormBackward(
  dy: usize, x: usize, gamma: usize, meanIn: usize, rstdIn: usize, dx: usize, dgammaOut: usize, dbetaOut: usize,
  n: i32, s: i32, c: i32, groups: i32, scratch: usize,
): void {
  const perGroup = c / groups;
  const count = <f64>(s * perGroup);
  const sample = s * c;
  const shiftPattern = patternArray(scratch, c, 0);
  const sumPattern = patternArray(scratch, c, 1);
  const productPattern = patternArray(scratch, c, 2);
  const pPattern = patternArray(scratch, c, 3);
  const qPattern = patternArray(scratch, c, 4);
  const deltaPattern = sumPattern; // free again once the sums are folded
  const oPattern = productPattern;
  const shift = channelArray(scratch, c, 0);
  const sumDy = channelArray(scratch, c, 1); // Σ dy, then p
  const sumDyX = channelArray(scratch, c, 2); // Σ dy·(x − shift), then q
  const dgamma = channelArray(scratch, c, 3);
  const dbeta = channelArray(scratch, c, 4);
  const o = channelArray(scratch, c, 5);
  const delta = channelArray(scratch, c, 6);
  const a = groupArray(scratch, c, groups, 0); // Σ over the group of γ·dy
  const b = groupArray(scratch, c, groups, 1); // Σ over the group of γ·dy·x̂
  for (let ch = 0; ch < c; ch++) {
    storeF64(dgamma, ch, 0);
    storeF64(dbeta, ch, 0);
  }
  for (let i = 0; i < n; i++) {
    const dys = dy + (<usize>(i * sample) << 2);
    const xs = x + (<usize>(i * sample) << 2);
    for (let ch = 0; ch < c; ch++) storeF64(shift, ch, <f64>loadF32(xs, ch));
    fillPattern(shiftPattern, shift, c);
    laneSums(dys, xs, false, sample, c, shiftPattern, sumPattern, productPattern);
    foldLanes(sumPattern, sumDy, c);
    foldLanes(productPattern, sumDyX, c);
    for (let g = 0; g < groups; g++) {
      storeF64(a, g, 0);
      storeF64(b, g, 0);
    }
    for (let ch = 0; ch < c; ch++) {
      const g = ch / perGroup;
      const sdy = loadF64(sumDy, ch);
      const d = <f64>loadF32(meanIn, i * groups + g) + (loadF64(shift, g * perGroup) - loadF64(shift, ch));
      const sdyXhat = <f64>loadF32(rstdIn, i * groups + g) * (loadF64(sumDyX, ch) - d * sdy);
      storeF64(delta, ch, d);
      storeF64(dbeta, ch, loadF64(dbeta, ch) + sdy);
      storeF64(dgamma, ch, loadF64(dgamma, ch) + sdyXhat);
      const gm = <f64>loadF32(gamma, ch);
      storeF64(a, g, loadF64(a, g) + gm * sdy);
      storeF64(b, g, loadF64(b, g) + gm * sdyXhat);
    }
    for (let ch = 0; ch < c; ch++) {
      const g = ch / perGroup;
      const r = <f64>loadF32(rstdIn, i * groups + g);
      storeF64(sumDy, ch, r * <f64>loadF32(gamma, ch));
      storeF64(sumDyX, ch, -r * r * (loadF64(b, g) / count));
      storeF64(o, ch, -r * (loadF64(a, g) / count));
    }
    fillPattern(pPattern, sumDy, c);
    fillPattern(qPattern, sumDyX, c);
    fillPattern(oPattern, o, c);
    fillPattern(deltaPattern, delta, c);
    affine(dx + (<usize>(i * sample) << 2), dys, true, xs, sample, c, pPattern, shiftPattern, deltaPattern, qPattern, oPattern);
  }
  for (let ch = 0; ch < c; ch++) {
    storeF32(dgammaOut, ch, <f32>loadF64(dgamma, ch));
    storeF32(dbetaOut, ch, <f32>loadF64(dbeta, ch));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Column sums: out[j] = Σᵢ x[i, j] for x of [rows, cols] — a Sum over leading axes, as every broadcast bias's
// gradient asks for. Walked flat in periods of P = lcm(cols, 4) lanes like GroupNorm (lane l is column l mod
// cols), so narrow rows (a conv bias: cols = 6) vectorise too. Lanes sum in f32 over blocks of 256 periods and
// in f64 across blocks, then fold to columns.

/** Bytes of scratch columnSums needs: P f32 block sums and P f64 totals, 16-byte aligned. */
export function columnSumsScratchBytes(cols: i32): i32 {
  return 16 + period(cols) * (4 + 8);
}

export function columnSums(x: usize, out: usize, rows: i32, cols: i32, scratch: usize): void {
  const p = period(cols);
  const block = align16(scratch);
  const totals = block + (<usize>p << 2);
  for (let l = 0; l < p; l++) storeF64(totals, l, 0);
  const length = rows * cols;
  const whole = length - (length % p);
  // At most 256 periods, and few enough that start + p·periodsPerBlock stays far from i32 overflow.
  const periodsPerBlock = max(1, min(256, (1 << 28) / p));
  for (let start = 0; start < whole; start += p * periodsPerBlock) {
    const end = min(start + p * periodsPerBlock, whole);
    for (let l = 0; l < p; l += 4) v128.store(block + (<usize>l << 2), f32x4.splat(0));
    for (let s = start; s < end; s += p) {
      for (let l = 0; l < p; l += 4) {
        const lane = block + (<usize>l << 2);
        v128.store(lane, f32x4.add(v128.load(lane), v128.load(x + (<usize>(s + l) << 2))));
      }
    }
    for (let l = 0; l < p; l++) storeF64(totals, l, loadF64(totals, l) + <f64>loadF32(block, l));
  }
  for (let i = whole; i < length; i++) {
    const l = i - whole;
    storeF64(totals, l, loadF64(totals, l) + <f64>loadF32(x, i));
  }
  for (let j = 0; j < cols; j++) {
    let total: f64 = 0;
    for (let l = j; l < p; l += cols) total += loadF64(totals, l);
    storeF32(out, j, <f32>total);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Transpose of the last two axes: x [batches, rows, cols] → out [batches, cols, rows]. 4×4 blocks move through
// registers (eight shuffles); rows go in bands of 16 so each output row is written a 64-byte line at a time.
// Edges that do not fill a block are copied one float at a time.

@inline function transposeBlock(x: usize, out: usize, rows: i32, cols: i32, r: i32, c: i32): void {
  const src = x + ((<usize>r * <usize>cols + <usize>c) << 2);
  const rowBytes = <usize>cols << 2;
  const r0 = v128.load(src);
  const r1 = v128.load(src + rowBytes);
  const r2 = v128.load(src + 2 * rowBytes);
  const r3 = v128.load(src + 3 * rowBytes);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  const dst = out + ((<usize>c * <usize>rows + <usize>r) << 2);
  const outRowBytes = <usize>rows << 2;
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + outRowBytes, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * outRowBytes, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * outRowBytes, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

export function transposeLastTwo(x: usize, out: usize, batches: i32, rows: i32, cols: i32): void {
  const matrix = <usize>(rows * cols) << 2;
  const rows4 = rows & ~3;
  const cols4 = cols & ~3;
  for (let b = 0; b < batches; b++) {
    const xs = x + <usize>b * matrix;
    const outs = out + <usize>b * matrix;
    for (let band = 0; band < rows4; band += 16) {
      const bandEnd = min(band + 16, rows4);
      for (let c = 0; c < cols4; c += 4) {
        for (let r = band; r < bandEnd; r += 4) transposeBlock(xs, outs, rows, cols, r, c);
      }
    }
    // Right edge (the last cols % 4 columns of every row) and bottom edge (the last rows % 4 rows).
    for (let r = 0; r < rows; r++) {
      for (let c = r < rows4 ? cols4 : 0; c < cols; c++) {
        storeF32(outs, c * rows + r, loadF32(xs, r * cols + c));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ReLU's gradient: out = dy·step(x), step = 1 where x > 0, 0 elsewhere and NaN where x is NaN — tfjs's formula
// with its exact arithmetic (signed zeros, ∞·0), in one pass where tfjs runs Step, Cast and Multiply.

export function reluGrad(dy: usize, x: usize, out: usize, length: i32): void {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const vectorEnd = length & ~3;
  for (let i = 0; i < vectorEnd; i += 4) {
    const offset = <usize>i << 2;
    const xs = v128.load(x + offset);
    const step = v128.or(v128.and(one, f32x4.gt(xs, zero)), v128.and(xs, f32x4.ne(xs, xs)));
    v128.store(out + offset, f32x4.mul(v128.load(dy + offset), step));
  }
  for (let i = vectorEnd; i < length; i++) {
    const xi = loadF32(x, i);
    const step: f32 = xi > 0 ? 1 : xi != xi ? xi : 0;
    storeF32(out, i, loadF32(dy, i) * step);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput's phase interleave (../conv2d-backprop-input.ts): its one conv computes every stride phase
// of dx as channels, src [n, blocksH, blocksW, sh, sw, c]; dx[n, y, x] is src[n, qh, qw, rh, rw] at
// y + offH = qh·sh + rh, x + offW = qw·sw + rw. For fixed (n, y, qw) the sw·c floats of phases rw are contiguous
// in both, so each output row is a few block copies; one pass instead of a Transpose and a Slice.

export function phaseInterleave(
  src: usize, dst: usize, n: i32, blocksH: i32, blocksW: i32, sh: i32, sw: i32, c: i32,
  offH: i32, offW: i32, inH: i32, inW: i32,
): void {
  const cBytes = <usize>c << 2;
  const blockBytes = <usize>(sh * sw) * cBytes; // one (qh, qw) block of src: all phases
  const rowBytes = <usize>inW * cBytes;
  let out = dst;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < inH; y++) {
      const u = y + offH;
      const qh = u / sh;
      const rh = u - qh * sh;
      const srcRow = src + <usize>(b * blocksH + qh) * <usize>blocksW * blockBytes + <usize>(rh * sw) * cBytes;
      let x = 0;
      while (x < inW) {
        const v = x + offW;
        const qw = v / sw;
        const rw = v - qw * sw;
        const count = min(sw - rw, inW - x);
        memory.copy(out + <usize>x * cBytes, srcRow + <usize>qw * blockBytes + <usize>rw * cBytes, <usize>count * cBytes);
        x += count;
      }
      out += rowBytes;
    }
  }
}
