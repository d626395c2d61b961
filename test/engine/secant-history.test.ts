/**
 * Anderson's secant history (secant-history.ts) against least squares worked out in float64: its weights γ must
 * minimise ‖f − ΔF·γ‖ over the last `memory` pairs kept, oldest first, through pushes, drops of the oldest pair
 * (the Givens re-triangularisation) and a nearly dependent pair it must not keep. Columns are scaled over three
 * decades, as a stiff step's are: the normal equations in float32 lose everything past cond(ΔF)² ≈ 1e7 here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, tf } from '../../src-main/engine';
import { SecantHistory } from '../../src-main/engine/ode/secant-history';

beforeAll(async () => {
  await initEngine();
});

/** Deterministic pseudo-random numbers in [−1, 1) (an LCG: reproducible without a seed library). */
function randoms(count: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** Least-squares weights of f on the columns, in float64 (normal equations by Gaussian elimination). */
function leastSquares(columns: Float32Array[], f: Float32Array): number[] {
  const m = columns.length;
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  const A = columns.map((ci) => columns.map((cj) => dot(ci, cj)));
  const b = columns.map((c) => dot(c, f));
  for (let col = 0; col < m; col++) {
    for (let row = col + 1; row < m; row++) {
      const factor = A[row][col] / A[col][col];
      for (let c = col; c < m; c++) A[row][c] -= factor * A[col][c];
      b[row] -= factor * b[col];
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let row = m - 1; row >= 0; row--) {
    let s = b[row];
    for (let c = row + 1; c < m; c++) s -= A[row][c] * x[c];
    x[row] = s / A[row][row];
  }
  return x;
}

describe('SecantHistory', () => {
  const n = 64;
  const memory = 4;
  // Seven pairs into a history of four: three drops of the oldest pair. Column k is scaled by 10^(−k mod 4).
  const columns = Array.from({ length: 7 }, (_, k) =>
    Float32Array.from(randoms(n, 11 + k), (v) => v * 10 ** -(k % 4)),
  );
  const f = Float32Array.from(randoms(n, 99));

  it('gives the least-squares weights on the last `memory` pairs, through every drop of the oldest', () => {
    const before = tf.memory().numTensors;
    const history = new SecantHistory(memory);
    columns.forEach((column, k) => {
      // ΔG = 2·ΔF, so that the correction ΔG·γ is checked too.
      history.push(tf.tensor1d(column), tf.tidy(() => tf.mul(tf.tensor1d(column), 2)));
      const kept = columns.slice(Math.max(0, k + 1 - memory), k + 1);
      expect(history.size).toBe(kept.length);
      const fTensor = tf.tensor1d(f);
      const gamma = history.weights(fTensor);
      const expected = leastSquares(kept, f);
      gamma.forEach((g, i) => {
        // Weights of columns scaled down to 1e-3 are large (~1e3): relative to their size.
        expect(Math.abs(g - expected[i]) / Math.abs(expected[i]), `push ${k + 1}, γ[${i}]`).toBeLessThan(1e-3);
      });
      const correction = history.correction(gamma);
      const values = correction.dataSync();
      const projection = Array.from({ length: n }, (_, e) => 2 * kept.reduce((s, c, i) => s + c[e] * expected[i], 0));
      const size = Math.sqrt(projection.reduce((s, v) => s + v * v, 0));
      const error = Math.sqrt(projection.reduce((s, v, e) => s + (v - values[e]) ** 2, 0));
      expect(error / size, `push ${k + 1}, ΔG·γ`).toBeLessThan(1e-4);
      tf.dispose([fTensor, correction]);
    });
    history.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('orthogonalises a nearly dependent ΔF to working precision (the second Gram–Schmidt pass)', () => {
    // The third column is the first two plus 1e-3 of another direction: one Gram–Schmidt pass in float32 leaves
    // the weights 1.6e-3 off (relative to the largest), two 9e-5 (measured).
    const base = [0, 1, 2].map((k) => Float32Array.from(randoms(n, 21 + k)));
    const near = base[0].map((v, i) => v + 0.5 * base[1][i] + 1e-3 * base[2][i]);
    const target = Float32Array.from(randoms(n, 24), (v, i) => v + near[i]);
    const before = tf.memory().numTensors;
    const history = new SecantHistory(memory);
    for (const column of [base[0], base[1], near]) history.push(tf.tensor1d(column), tf.tensor1d(column));
    expect(history.size).toBe(3);
    const fTensor = tf.tensor1d(target);
    const gamma = history.weights(fTensor);
    const expected = leastSquares([base[0], base[1], near], target);
    const scale = Math.max(...expected.map(Math.abs));
    gamma.forEach((g, i) => expect(Math.abs(g - expected[i]) / scale, `γ[${i}]`).toBeLessThan(5e-4));
    fTensor.dispose();
    history.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('makes room for a pair whose ΔF lies in the span of the history by dropping the oldest', () => {
    const before = tf.memory().numTensors;
    const history = new SecantHistory(memory);
    history.push(tf.tensor1d(columns[0]), tf.tensor1d(columns[0]));
    history.push(tf.tensor1d(columns[1]), tf.tensor1d(columns[1]));
    const combination = columns[0].map((v, i) => 0.5 * v - 3 * columns[1][i]);
    history.push(tf.tensor1d(combination), tf.tensor1d(combination));
    // The oldest pair makes room: the newest (the current Jacobian's secant) is kept.
    expect(history.size).toBe(2);
    const fTensor = tf.tensor1d(f);
    const gamma = history.weights(fTensor);
    leastSquares([columns[1], combination], f).forEach((g, i) =>
      expect(Math.abs(gamma[i] - g) / Math.abs(g), `γ[${i}]`).toBeLessThan(1e-3),
    );
    fTensor.dispose();
    // An independent one is kept.
    history.push(tf.tensor1d(columns[2]), tf.tensor1d(columns[2]));
    expect(history.size).toBe(3);
    history.clear();
    expect(history.size).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps following the iterates once the history spans the whole space (a state smaller than `memory`)', () => {
    const before = tf.memory().numTensors;
    const history = new SecantHistory(memory);
    const pairs = [[1, 0], [0, 1], [1, 1], [2, -1], [-1, 3]];
    pairs.forEach((p) => history.push(tf.tensor1d(p), tf.tensor1d(p)));
    expect(history.size).toBe(2);
    // ΔF·γ = f exactly with the last two pairs, (2, −1) and (−1, 3): γ = (1, 1) for f = (1, 2).
    const fTensor = tf.tensor1d([1, 2]);
    history.weights(fTensor).forEach((g) => expect(g).toBeCloseTo(1, 5));
    fTensor.dispose();
    history.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
