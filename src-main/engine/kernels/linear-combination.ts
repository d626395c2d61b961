/**
 * Σⱼ cⱼ·tⱼ over same-shaped float32 tensors as one wasm kernel: the Runge–Kutta stage combination
 * y + h·Σ aᵢⱼ·kⱼ and error estimate h·Σ eⱼ·kⱼ. As tfjs ops that is a Multiply per term and an AddN, each a pass
 * over memory (a 128×26×26×6 state is 2 MB): 483 Multiplies and 118 AddNs per ODENet training step. The loop is
 * our WebAssembly SIMD (simd/assembly/kernels.ts) and rounds exactly as Multiply-then-AddN did.
 *
 * Also the controller's error norm, Σ (x / (atol + rtol·max(|a|, |b|)))², read straight off the heap: it
 * needs no output tensor, only a number.
 */
import { tf, type Tensor } from '../tf.js';
import { simdKernels, type WasmBackend } from './simd/simd-module.js';

export const LINEAR_COMBINATION = 'OdelabLinearCombination';

interface LinearCombinationAttrs {
  coefficients: number[];
}

function linearCombinationKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const terms = Object.values(inputs) as tf.TensorInfo[];
  const { coefficients } = attrs as unknown as LinearCombinationAttrs;
  if (terms.length === 0 || terms.length !== coefficients.length) {
    throw new Error(`${LINEAR_COMBINATION}: ${terms.length} terms for ${coefficients.length} coefficients`);
  }
  for (const t of terms) {
    if (t.dtype !== 'float32') throw new Error(`${LINEAR_COMBINATION} supports float32 only, got ${t.dtype}`);
    if (!tf.util.arraysEqual(t.shape, terms[0].shape)) {
      throw new Error(`${LINEAR_COMBINATION}: shapes differ, [${t.shape}] and [${terms[0].shape}]`);
    }
  }
  const simd = simdKernels(backend);
  const out = (backend as unknown as WasmBackend).makeOutput(terms[0].shape, 'float32');
  const count = terms.length;
  // The table: term pointers (i32), then coefficients (f32). Views are taken after every allocation.
  const table = simd.scratch(8 * count);
  const pointers = simd.heapI32();
  const coeffs = simd.heapF32();
  terms.forEach((t, j) => {
    pointers[table / 4 + j] = simd.pointer(t);
    coeffs[table / 4 + count + j] = coefficients[j];
  });
  simd.exports.linearCombination(simd.pointer(out), table, count, tf.util.sizeFromShape(out.shape));
  return out;
}

export const linearCombinationKernelConfig: tf.KernelConfig = {
  kernelName: LINEAR_COMBINATION,
  backendName: 'wasm',
  kernelFunc: linearCombinationKernel,
};

/** d/dtⱼ of Σ cⱼ·tⱼ is cⱼ: each term's gradient is dy scaled by its coefficient. */
export const linearCombinationGradConfig: tf.GradConfig = {
  kernelName: LINEAR_COMBINATION,
  gradFunc: (dy, _saved, attrs) => {
    const { coefficients } = attrs as unknown as LinearCombinationAttrs;
    const d = dy as Tensor;
    return Object.fromEntries(coefficients.map((c, j) => [j, () => (c === 1 ? d.clone() : tf.mul(d, c))]));
  },
};

/** Whether the fused kernels serve the active backend (wasm); elsewhere callers compose tfjs ops. */
export function hasFusedStateKernels(): boolean {
  return tf.getKernel(LINEAR_COMBINATION, tf.getBackend()) !== undefined;
}

/** Σⱼ cⱼ·tⱼ through the kernel; requires hasFusedStateKernels(). */
export function linearCombination(terms: readonly Tensor[], coefficients: readonly number[]): Tensor {
  const attrs: LinearCombinationAttrs = { coefficients: [...coefficients] };
  return tf.engine().runKernel(
    LINEAR_COMBINATION, terms as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap,
  ) as Tensor;
}

/** Σ (x / (atol + rtol·max(|a|, |b|)))² over same-shaped tensors on wasm; requires hasFusedStateKernels(). */
export function scaledSumSquares(x: Tensor, a: Tensor, b: Tensor, rtol: number, atol: number): number {
  for (const t of [x, a, b]) {
    if (t.dtype !== 'float32') throw new Error(`scaledSumSquares supports float32 only, got ${t.dtype}`);
    if (!tf.util.arraysEqual(t.shape, x.shape)) throw new Error(`scaledSumSquares: shapes differ, [${t.shape}] and [${x.shape}]`);
  }
  const simd = simdKernels(tf.backend());
  return simd.exports.scaledSumSquares(simd.pointer(x), simd.pointer(a), simd.pointer(b), x.size, rtol, atol);
}
