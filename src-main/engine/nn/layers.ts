/**
 * The few layers the lab's models need, as plain functions over parameter records: no hidden state, so a
 * model is its parameter record plus a function, and the adjoint sees exactly which variables a block uses.
 * Tensors are NHWC (tfjs's native layout).
 */
import { tf, variableFrom, type Tensor } from '../tf';
import { groupNormKernel, hasGroupNormKernel } from '../kernels/group-norm';
import { initBias, initWeights, SeedSequence } from './init';

let counter = 0;
/** Variable names must be unique per process in tfjs. */
function uniqueName(name: string): string {
  return `${name}_${++counter}`;
}

export interface ConvParams {
  kernel: tf.Variable; // [kh, kw, inC, outC]
  bias: tf.Variable; // [outC]
}

export function createConv(inC: number, outC: number, size: number, seeds: SeedSequence, name = 'conv'): ConvParams {
  const fanIn = inC * size * size;
  return {
    kernel: initWeights([size, size, inC, outC], fanIn, outC * size * size, seeds, uniqueName(`${name}/kernel`)),
    bias: initBias([outC], fanIn, seeds, uniqueName(`${name}/bias`)),
  };
}

/** The bias rides in the fused kernel: a separate [C] broadcast add is a slow scalar loop on wasm. */
export function conv2d(x: Tensor, p: ConvParams, padding: 'same' | 'valid' = 'same', stride = 1): Tensor {
  return tf.fused.conv2d({ x: x as tf.Tensor4D, filter: p.kernel as tf.Tensor4D, strides: stride, pad: padding, bias: p.bias });
}

/**
 * conv2d of the model's input images, which need no gradient. tf.fused.conv2d's gradient computes dx eagerly, a
 * backprop-input convolution as costly as the forward one (2.4 ms of a 120 ms Fashion step); here x is not an
 * input of the differentiated op, so only the filter's and the bias's gradients are computed.
 */
export function conv2dOnInput(x: Tensor, p: ConvParams, padding: 'same' | 'valid' = 'same', stride = 1): Tensor {
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const [kernel, bias] = args as Tensor[];
    const value = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: kernel as tf.Tensor4D, strides: stride, pad: padding, bias });
    const gradFunc = (dy: Tensor) => {
      const attrs = { strides: stride, pad: padding, dataFormat: 'NHWC', filterShape: kernel.shape };
      const dKernel = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as Tensor;
      return [dKernel, tf.sum(dy, [0, 1, 2])];
    };
    return { value, gradFunc };
  });
  return op(p.kernel, p.bias);
}

export interface GroupNormParams {
  groups: number;
  gamma: tf.Variable; // [C]
  beta: tf.Variable; // [C]
}

export function createGroupNorm(groups: number, channels: number, name = 'groupnorm'): GroupNormParams {
  if (channels % groups !== 0) throw new Error(`GroupNorm: ${channels} channels do not split into ${groups} groups`);
  return {
    groups,
    gamma: variableFrom(tf.ones([channels]), true, uniqueName(`${name}/gamma`)),
    beta: variableFrom(tf.zeros([channels]), true, uniqueName(`${name}/beta`)),
  };
}

/**
 * Group normalisation (Wu & He 2018) over NHWC, ε = 1e-5 as in PyTorch. One kernel on wasm and cpu (see
 * kernels/group-norm.ts); composed from tfjs ops elsewhere.
 */
export function groupNorm(x: Tensor, p: GroupNormParams, epsilon = 1e-5): Tensor {
  if (hasGroupNormKernel()) return groupNormKernel(x, p.gamma, p.beta, p.groups, epsilon);
  return groupNormComposite(x, p, epsilon);
}

/** GroupNorm from tfjs ops: the fallback, and the reference the kernel is tested against. */
export function groupNormComposite(x: Tensor, p: GroupNormParams, epsilon = 1e-5): Tensor {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const grouped = tf.reshape(x, [n, h, w, p.groups, c / p.groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normalised = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(tf.reshape(normalised, [n, h, w, c]), p.gamma), p.beta);
  });
}

export interface DenseParams {
  kernel: tf.Variable; // [in, out]
  bias: tf.Variable; // [out]
}

export function createDense(inputs: number, outputs: number, seeds: SeedSequence, name = 'dense'): DenseParams {
  return {
    kernel: initWeights([inputs, outputs], inputs, outputs, seeds, uniqueName(`${name}/kernel`)),
    bias: initBias([outputs], inputs, seeds, uniqueName(`${name}/bias`)),
  };
}

/** Bias fused into the product, as in conv2d. */
export function dense(x: Tensor, p: DenseParams): Tensor {
  return tf.fused.matMul({ a: x as tf.Tensor2D, b: p.kernel as tf.Tensor2D, bias: p.bias });
}

/** Every variable of a parameter record, in a stable order (for the adjoint and the optimiser). */
export function variablesOf(record: object): tf.Variable[] {
  const out: tf.Variable[] = [];
  const visit = (value: unknown) => {
    if (value instanceof tf.Variable) out.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(record);
  return out;
}

export { SeedSequence };
