/** Helpers shared by the kernel tests: deterministic inputs, running on a given backend, relative error. */
import { expect } from 'vitest';
import { tf } from '../../src-main/engine/tf.js';

/** Deterministic values in [-1, 1) so both backends see identical inputs. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `fn` on `backend` and downloads its outputs; tensors must be created inside `fn`. Returns to wasm. */
export async function on(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  await tf.setBackend('wasm');
  return data;
}

/** max |actual − expected| / max |expected|. */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}
