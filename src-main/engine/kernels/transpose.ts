/**
 * Transpose for wasm when it swaps the last two axes (matrix transposes: every dense layer's gradient asks for
 * them, see batch-mat-mul.ts). The shipped kernel moves one float at a time through index arithmetic: 0.8 ms
 * for [128, 2028]; our SIMD kernel (simd/assembly/kernels.ts) moves 4×4 blocks through registers. Other
 * permutations go to the shipped kernel.
 */
import { tf } from '../tf.js';
import { simdKernels, type WasmBackend } from './simd/simd-module.js';

/** Whether `perm` keeps every axis but swaps the last two. */
export function swapsLastTwo(perm: readonly number[]): boolean {
  const n = perm.length;
  return n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.slice(0, n - 2).every((p, i) => p === i);
}

export function fastTransposeConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { perm } = args.attrs as unknown as tf.TransposeAttrs;
      if (x.dtype !== 'float32' || !swapsLastTwo(perm)) return shipped.kernelFunc(args);
      const n = x.shape.length;
      const [rows, cols] = [x.shape[n - 2], x.shape[n - 1]];
      const out = (args.backend as unknown as WasmBackend).makeOutput(perm.map((p) => x.shape[p]), 'float32');
      const batches = rows * cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / (rows * cols);
      const simd = simdKernels(args.backend);
      simd.exports.transposeLastTwo(simd.pointer(x), simd.pointer(out), batches, rows, cols);
      return out;
    },
  };
}
