import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src-main/engine/backend.js';
import {
  hasFusedStateKernels,
  linearCombination,
  scaledSumSquares,
} from '../../src-main/engine/kernels/linear-combination.js';
import { tf } from '../../src-main/engine/tf.js';
import { values } from './compare.js';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm' });
});

/** The tfjs ops the kernel replaces: a Multiply per term, then AddN. */
function composite(terms: tf.Tensor[], coefficients: number[]): Float32Array {
  return tf.tidy(() => tf.addN(terms.map((t, j) => tf.mul(t, coefficients[j])))).dataSync() as Float32Array;
}

// Lengths around the 4-float vector: a tail of 1–3, no vector at all, and a realistic state.
const lengths = [1, 3, 4, 7, 1001, 519_168];

describe('linear combination kernel (wasm)', () => {
  it('is the active backend’s kernel', () => {
    expect(hasFusedStateKernels()).toBe(true);
  });

  it.each(lengths)('equals Multiply-then-AddN bit for bit, 1 to 8 terms, length %i', (length) => {
    for (const count of [1, 2, 5, 8]) {
      const terms = Array.from({ length: count }, (_, j) => tf.tensor1d(values(length, 100 * count + j).map((v) => v * 10 ** (j % 3))));
      const coefficients = Array.from({ length: count }, (_, j) => (j === 0 ? 1 : 0.1 * (j + 1) - 0.37));
      const fused = linearCombination(terms, coefficients);
      expect(fused.shape).toEqual([length]);
      expect(Array.from(fused.dataSync())).toEqual(Array.from(composite(terms, coefficients)));
      tf.dispose([fused, ...terms]);
    }
  });

  it('has gradient cⱼ·dy for each term', () => {
    const shape = [3, 5];
    const terms = [0, 1, 2].map((j) => tf.tensor2d(values(15, 10 + j), [3, 5]));
    const w = tf.tensor2d(values(15, 20), [3, 5]);
    const coefficients = [1, -0.25, 3];
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(linearCombination([a, b, c], coefficients), w)))(terms);
    grads.forEach((g, j) => {
      expect(g.shape).toEqual(shape);
      expect(Array.from(g.dataSync())).toEqual(Array.from(tf.mul(w, coefficients[j]).dataSync()));
    });
    tf.dispose([...grads, ...terms, w]);
  });

  it('rejects mismatched shapes and coefficient counts', () => {
    const a = tf.zeros([4]);
    const b = tf.zeros([5]);
    expect(() => linearCombination([a, b], [1, 1])).toThrow(/shapes differ/);
    expect(() => linearCombination([a, a], [1])).toThrow(/2 terms for 1 coefficients/);
    tf.dispose([a, b]);
  });

  it('leaks no tensors or backend data', () => {
    const a = tf.ones([1000]);
    const run = () => tf.dispose(tf.grads((x: tf.Tensor) => tf.sum(linearCombination([x, x], [1, 2])))([a]));
    run();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    a.dispose();
  });
});

describe('scaled sum of squares (wasm)', () => {
  /** The same quantity in float64 from the float32 inputs. */
  function reference(x: Float32Array, a: Float32Array, b: Float32Array, rtol: number, atol: number): number {
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += (x[i] / (atol + rtol * Math.max(Math.abs(a[i]), Math.abs(b[i])))) ** 2;
    return sum;
  }

  it.each(lengths)('matches a float64 reference within 1e-6 relative, length %i', (length) => {
    const [x, a, b] = [1, 2, 3].map((seed) => values(length, seed));
    const [tx, ta, tb] = [x, a, b].map((v) => tf.tensor1d(v));
    for (const [rtol, atol] of [[1e-3, 1e-6], [0.1, 0.1], [1, 1]]) {
      const expected = reference(x, a, b, rtol, atol);
      expect(Math.abs(scaledSumSquares(tx, ta, tb, rtol, atol) - expected) / expected).toBeLessThan(1e-6);
    }
    tf.dispose([tx, ta, tb]);
  });

  it('is NaN when the error is (the controller then rejects the step)', () => {
    const x = tf.tensor1d([0.1, NaN, 0.2, 0.3, 0.4]);
    const ref = tf.ones([5]);
    expect(scaledSumSquares(x, ref, ref, 1e-3, 1e-3)).toBeNaN();
    tf.dispose([x, ref]);
  });
});
