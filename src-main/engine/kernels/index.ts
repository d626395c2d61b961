/**
 * Kernels our training needs that the wasm backend lacks or runs slowly, one file per kernel. Registered
 * before the backend is set. A missing kernel is added only if still missing (a future tfjs release may
 * ship it); a slow one is wrapped, keeping the shipped kernel as the fallback for cases we do not cover.
 */
import { tf } from '../tf.js';
import { fastBatchMatMulConfig } from './batch-mat-mul.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { fastConv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { aliasIdentityConfig } from './identity.js';
import { linearCombinationGradConfig, linearCombinationKernelConfig } from './linear-combination.js';
import { reluGradConfig, reluGradKernelConfig } from './relu-grad.js';
import { fastSumConfig } from './sum.js';
import { fastTransposeConfig } from './transpose.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

const BACKEND = 'wasm';

export const missingWasmKernels: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, unsortedSegmentSumConfig];

/**
 * Kernels of our own (fused operations tfjs has no kernel for), each with the gradient that uses it: our linear
 * combination's, and ReLU's (replacing tfjs's, which falls back to its own formula off wasm).
 */
const ownWasmKernels: readonly { kernel: tf.KernelConfig; gradient: tf.GradConfig }[] = [
  { kernel: linearCombinationKernelConfig, gradient: linearCombinationGradConfig },
  { kernel: reluGradKernelConfig, gradient: reluGradConfig },
];

const replacements: Record<string, (shipped: tf.KernelConfig) => tf.KernelConfig> = {
  BatchMatMul: fastBatchMatMulConfig,
  Conv2DBackpropInput: fastConv2DBackpropInputConfig,
  Identity: aliasIdentityConfig,
  Sum: fastSumConfig,
  Transpose: fastTransposeConfig,
};

const ours = new WeakSet<tf.KernelConfig>(missingWasmKernels);

/** Registers our wasm kernels; returns the names registered by this call. Safe to call repeatedly. */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of missingWasmKernels) {
    if (tf.getKernel(config.kernelName, BACKEND) !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  for (const { kernel, gradient } of ownWasmKernels) {
    if (tf.getGradient(gradient.kernelName) !== gradient) tf.registerGradient(gradient);
    if (tf.getKernel(kernel.kernelName, BACKEND) !== undefined) continue;
    tf.registerKernel(kernel);
    added.push(kernel.kernelName);
  }
  for (const [name, wrap] of Object.entries(replacements)) {
    const shipped = tf.getKernel(name, BACKEND);
    if (shipped === undefined || ours.has(shipped)) continue;
    const config = wrap(shipped);
    ours.add(config);
    tf.unregisterKernel(name, BACKEND); // registerKernel would warn about overwriting
    tf.registerKernel(config);
    added.push(name);
  }
  return added;
}
