/**
 * GroupNorm (Wu & He 2018, PyTorch semantics: biased variance, ε inside the square root) as one kernel and
 * its gradient as another, for the wasm and cpu backends. Composed from tfjs ops it is moments, a broadcast
 * subtract, multiply and add forward, and twice as many broadcast ops backward; wasm runs broadcasting binary
 * ops in a scalar index-mapping loop, so a GroupNorm cost 10 ms forward and ~25 ms backward on the ODENet
 * state (128×26×26×6), four times a conv. Here it is three passes over each sample forward and two backward.
 *
 * x is [N, …spatial, C], channels last; gamma and beta are [C]; groups divides C. The forward kernel also
 * outputs the per-(sample, group) mean and 1/√(var + ε), [N, groups], which its gradient reuses.
 */
import { tf, type Tensor } from '../tf.js';
import { JS_KERNEL_BACKENDS, runJsKernel, type JsKernelBackend } from './js-kernel.js';

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

function layout(x: tf.TensorInfo, gamma: tf.TensorInfo, groups: number, kernelName: string): Layout {
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
  return { n, s: n === 0 ? 0 : tf.util.sizeFromShape(shape) / (n * c), c, groups };
}

/**
 * y = (x − μ)·rstd·γ + β per (sample, group). Loops run channel by channel with stride C: a sample (16 KB in
 * the hot case) stays in L1 across the passes, and each channel's sums live in registers. One pass gathers
 * each channel's sum and sum of squares, shifted by its first value so they do not cancel when |mean| ≫ std;
 * channels merge into their group with the parallel-variance formula. A second pass writes y.
 */
function forward(
  { n, s, c, groups }: Layout,
  epsilon: number,
  [x, gamma, beta]: Float32Array[],
  [y, meanOut, rstdOut]: Float32Array[],
): void {
  const perGroup = c / groups;
  const count = s * perGroup;
  const sample = s * c;
  const channelMean = new Float64Array(c);
  const channelM2 = new Float64Array(c); // Σ (x − channel mean)²
  const mean = new Float64Array(groups);
  const rstd = new Float64Array(groups);
  for (let i = 0; i < n; i++) {
    const start = i * sample;
    const end = start + sample;
    for (let ch = 0; ch < c; ch++) {
      const shift = x[start + ch];
      let sum = 0;
      let squares = 0;
      for (let k = start + ch; k < end; k += c) {
        const d = x[k] - shift;
        sum += d;
        squares += d * d;
      }
      channelMean[ch] = shift + sum / s;
      channelM2[ch] = squares - (sum * sum) / s;
    }
    for (let g = 0; g < groups; g++) {
      let mu = 0;
      for (let ch = g * perGroup; ch < (g + 1) * perGroup; ch++) mu += channelMean[ch];
      mu /= perGroup;
      let m2 = 0;
      for (let ch = g * perGroup; ch < (g + 1) * perGroup; ch++) {
        const d = channelMean[ch] - mu;
        m2 += channelM2[ch] + s * d * d;
      }
      mean[g] = mu;
      rstd[g] = 1 / Math.sqrt(Math.max(m2, 0) / count + epsilon);
      meanOut[i * groups + g] = mean[g];
      rstdOut[i * groups + g] = rstd[g];
    }
    for (let ch = 0; ch < c; ch++) {
      const g = (ch / perGroup) | 0;
      const scale = rstd[g] * gamma[ch];
      const shift = beta[ch] - mean[g] * scale;
      for (let k = start + ch; k < end; k += c) y[k] = x[k] * scale + shift;
    }
  }
}

/**
 * With x̂ = (x − μ)·r over a group of m elements:
 *   dβ_c = Σ dy,  dγ_c = Σ dy·x̂,  dx = r·(γ·dy − mean_g(γ·dy) − x̂·mean_g(γ·dy·x̂)).
 * One pass gathers Σdy and Σdy·x per channel (Σdy·x̂ = r·(Σdy·x − μ·Σdy)); the second writes dx as an affine
 * function of dy and x per channel.
 */
function backward(
  { n, s, c, groups }: Layout,
  [dy, x, gamma, meanIn, rstdIn]: Float32Array[],
  [dx, dgammaOut, dbetaOut]: Float32Array[],
): void {
  const perGroup = c / groups;
  const count = s * perGroup;
  const sample = s * c;
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const sumDy = new Float64Array(c);
  const sumDyXhat = new Float64Array(c);
  const a = new Float64Array(groups); // mean_g(γ·dy)
  const b = new Float64Array(groups); // mean_g(γ·dy·x̂)
  for (let i = 0; i < n; i++) {
    const start = i * sample;
    const end = start + sample;
    a.fill(0);
    b.fill(0);
    for (let ch = 0; ch < c; ch++) {
      const g = (ch / perGroup) | 0;
      let sdy = 0;
      let sdyx = 0;
      for (let k = start + ch; k < end; k += c) {
        const d = dy[k];
        sdy += d;
        sdyx += d * x[k];
      }
      const sdyXhat = rstdIn[i * groups + g] * (sdyx - meanIn[i * groups + g] * sdy);
      sumDy[ch] = sdy;
      sumDyXhat[ch] = sdyXhat;
      dbeta[ch] += sdy;
      dgamma[ch] += sdyXhat;
      a[g] += gamma[ch] * sdy;
      b[g] += gamma[ch] * sdyXhat;
    }
    for (let ch = 0; ch < c; ch++) {
      const g = (ch / perGroup) | 0;
      const r = rstdIn[i * groups + g];
      const mu = meanIn[i * groups + g];
      const ag = a[g] / count;
      const bg = b[g] / count;
      const p = r * gamma[ch];
      const q = -r * r * bg;
      const o = -r * ag - q * mu;
      for (let k = start + ch; k < end; k += c) dx[k] = dy[k] * p + x[k] * q + o;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    dgammaOut[ch] = dgamma[ch];
    dbetaOut[ch] = dbeta[ch];
  }
}

function forwardKernel(backendName: JsKernelBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { groups, epsilon } = attrs as unknown as GroupNormAttrs;
    const l = layout(x, gamma, groups, GROUP_NORM);
    if (!tf.util.arraysEqual(beta.shape, gamma.shape)) throw new Error(`${GROUP_NORM}: beta must be [${l.c}]`);
    return runJsKernel(backendName, backend as tf.KernelBackend, GROUP_NORM, [x, gamma, beta], [x.shape, [l.n, groups], [l.n, groups]],
      (ins, outs) => forward(l, epsilon, ins, outs));
  };
}

function backwardKernel(backendName: JsKernelBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, x, gamma, mean, rstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'rstd', tf.TensorInfo>;
    const { groups } = attrs as unknown as GroupNormAttrs;
    const l = layout(x, gamma, groups, GROUP_NORM_GRAD);
    if (!tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`${GROUP_NORM_GRAD}: dy must match x [${x.shape}]`);
    return runJsKernel(backendName, backend as tf.KernelBackend, GROUP_NORM_GRAD, [dy, x, gamma, mean, rstd],
      [x.shape, gamma.shape, gamma.shape], (ins, outs) => backward(l, ins, outs));
  };
}

export const groupNormKernelConfigs: readonly tf.KernelConfig[] = JS_KERNEL_BACKENDS.flatMap((backendName) => [
  { kernelName: GROUP_NORM, backendName, kernelFunc: forwardKernel(backendName) },
  { kernelName: GROUP_NORM_GRAD, backendName, kernelFunc: backwardKernel(backendName) },
]);

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

/** Whether the active backend has the kernel (the `tensorflow` backend does not: use the composite there). */
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
