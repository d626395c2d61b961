/**
 * GroupNorm (Wu & He 2018, PyTorch semantics: biased variance, ε inside the square root) as one kernel and
 * its gradient as another, for the wasm backend. Composed from tfjs ops it is moments, a broadcast subtract,
 * multiply and add forward, and twice as many broadcast ops backward; wasm runs broadcasting binary ops in a
 * scalar index-mapping loop, so a GroupNorm cost 10 ms forward and ~25 ms backward on the ODENet state
 * (128×26×26×6), four times a conv. Here the loops are our WebAssembly SIMD (simd/assembly/kernels.ts): two
 * passes over each sample forward and two backward, ~10× faster than the same loops in JavaScript were.
 *
 * x is [N, …spatial, C], channels last; gamma and beta are [C]; groups divides C. The forward kernel also
 * outputs per-(sample, group) statistics, [N, groups], which its gradient reuses: the mean (relative to the
 * group's first element, which keeps it exact when |mean| ≫ std) and 1/√(var + ε).
 */
import { tf, type Tensor } from '../tf.js';
import { simdKernels, type WasmBackend } from './simd/simd-module.js';

export const GROUP_NORM = 'OdelabGroupNorm';
export const GROUP_NORM_GRAD = 'OdelabGroupNormGrad';

export interface GroupNormAttrs {
  groups: number;
  epsilon: number;
}

interface Layout {
  n: number;
  /** Positions per sample (product of the spatial dims). */
  s: number;
  c: number;
  groups: number;
}

function layout(x: tf.TensorInfo, gamma: tf.TensorInfo, groups: number, kernelName: string, all: tf.TensorInfo[]): Layout {
  for (const t of all) {
    if (t.dtype !== 'float32') throw new Error(`${kernelName} supports float32 only, got ${t.dtype}`);
  }
  const shape = x.shape;
  if (shape.length < 2) throw new Error(`${kernelName}: x must be [N, …, C], got [${shape}]`);
  const c = shape[shape.length - 1];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(`${kernelName}: ${c} channels do not split into ${groups} groups`);
  }
  if (gamma.shape.length !== 1 || gamma.shape[0] !== c) {
    throw new Error(`${kernelName}: gamma must be [${c}], got [${gamma.shape}]`);
  }
  const n = shape[0];
  const s = n === 0 ? 0 : tf.util.sizeFromShape(shape) / (n * c);
  if (c === 0 || (n > 0 && s === 0)) throw new Error(`${kernelName}: x [${shape}] has no elements to normalise per sample`);
  return { n, s, c, groups };
}

function forwardKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const { groups, epsilon } = attrs as unknown as GroupNormAttrs;
  const l = layout(x, gamma, groups, GROUP_NORM, [x, gamma, beta]);
  if (!tf.util.arraysEqual(beta.shape, gamma.shape)) throw new Error(`${GROUP_NORM}: beta must be [${l.c}]`);
  const wasm = backend as unknown as WasmBackend;
  const simd = simdKernels(backend);
  const outs = [wasm.makeOutput(x.shape, 'float32'), wasm.makeOutput([l.n, groups], 'float32'), wasm.makeOutput([l.n, groups], 'float32')];
  const scratch = simd.scratch(simd.exports.groupNormScratchBytes(l.c, groups));
  const [px, pgamma, pbeta, py, pmean, prstd] = [x, gamma, beta, ...outs].map((t) => simd.pointer(t));
  simd.exports.groupNormForward(px, pgamma, pbeta, py, pmean, prstd, l.n, l.s, l.c, groups, epsilon, scratch);
  return outs;
}

function backwardKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const { dy, x, gamma, mean, rstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'rstd', tf.TensorInfo>;
  const { groups } = attrs as unknown as GroupNormAttrs;
  const l = layout(x, gamma, groups, GROUP_NORM_GRAD, [dy, x, gamma, mean, rstd]);
  if (!tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`${GROUP_NORM_GRAD}: dy must match x [${x.shape}]`);
  const wasm = backend as unknown as WasmBackend;
  const simd = simdKernels(backend);
  const outs = [wasm.makeOutput(x.shape, 'float32'), wasm.makeOutput(gamma.shape, 'float32'), wasm.makeOutput(gamma.shape, 'float32')];
  const scratch = simd.scratch(simd.exports.groupNormScratchBytes(l.c, groups));
  const ptrs = [dy, x, gamma, mean, rstd, ...outs].map((t) => simd.pointer(t));
  simd.exports.groupNormBackward(ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6], ptrs[7], l.n, l.s, l.c, groups, scratch);
  return outs;
}

export const groupNormKernelConfigs: readonly tf.KernelConfig[] = [
  { kernelName: GROUP_NORM, backendName: 'wasm', kernelFunc: forwardKernel },
  { kernelName: GROUP_NORM_GRAD, backendName: 'wasm', kernelFunc: backwardKernel },
];

/**
 * The mean and rstd outputs are statistics for the gradient, not differentiable outputs: their dys are
 * ignored. The gradient kernel has no gradient itself (no second-order derivatives through GroupNorm).
 */
export const groupNormGradConfig: tf.GradConfig = {
  kernelName: GROUP_NORM,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const [x, gamma, mean, rstd] = saved;
    // One kernel gives all three; the tape disposes those no input asked for when the backward pass ends.
    const [dx, dgamma, dbeta] = tf.engine().runKernel(GROUP_NORM_GRAD, { dy, x, gamma, mean, rstd }, attrs) as Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
};

let registered = false;

/** Registers the kernels and the gradient; idempotent. */
export function registerGroupNorm(): void {
  if (registered) return;
  registered = true;
  for (const config of groupNormKernelConfigs) {
    if (tf.getKernel(config.kernelName, config.backendName) === undefined) tf.registerKernel(config);
  }
  if (tf.getGradient(GROUP_NORM) === undefined) tf.registerGradient(groupNormGradConfig);
}

/** Whether the active backend has the kernel (wasm only: elsewhere layers compose GroupNorm from tfjs ops). */
export function hasGroupNormKernel(): boolean {
  registerGroupNorm();
  return tf.getKernel(GROUP_NORM, tf.getBackend()) !== undefined;
}

/** GroupNorm through the kernel; requires hasGroupNormKernel(). */
export function groupNormKernel(x: Tensor, gamma: Tensor, beta: Tensor, groups: number, epsilon: number): Tensor {
  const attrs: GroupNormAttrs = { groups, epsilon };
  const [y, mean, rstd] = tf.engine().runKernel(
    GROUP_NORM, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap,
  ) as Tensor[];
  // The tape holds its own references to the statistics when a gradient is being recorded.
  mean.dispose();
  rstd.dispose();
  return y;
}
