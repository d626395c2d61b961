/**
 * UnsortedSegmentSum for the wasm backend, which ships none: it is the gradient of tf.gather (picking
 * log-probabilities by label index, gathering rows of a parameter), so without it those grads throw.
 *
 * out[s, …] = Σ_{i : ids[i] = s} x[i, …] is a one-hot matrix product, [S, N] × [N, D], on XNNPACK.
 * Ids outside [0, numSegments) give an all-zero one-hot row, so they are dropped as TensorFlow specifies.
 */
import { tf } from '../tf.js';
import { KernelScope } from './scope.js';

function unsortedSegmentSum({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32') {
    throw new Error(`UnsortedSegmentSum (wasm) supports float32 data only, got ${x.dtype}`);
  }
  const idsRank = segmentIds.shape.length;
  if (!tf.util.arraysEqual(segmentIds.shape, x.shape.slice(0, idsRank))) {
    throw new Error(`UnsortedSegmentSum (wasm): segmentIds shape [${segmentIds.shape}] must prefix x shape [${x.shape}]`);
  }
  const n = tf.util.sizeFromShape(segmentIds.shape);
  const rest = x.shape.slice(idsRank);
  const scope = new KernelScope(backend as tf.KernelBackend, 'wasm');
  try {
    let ids = scope.run('Reshape', { x: segmentIds }, { shape: [n] });
    if (ids.dtype !== 'int32') ids = scope.run('Cast', { x: ids }, { dtype: 'int32' });
    // wasm's OneHot writes int32 whatever dtype it is given, hence the Cast.
    const hot = scope.run('OneHot', { indices: ids }, { depth: numSegments, onValue: 1, offValue: 0, dtype: 'int32' });
    const hotF = scope.run('Cast', { x: hot }, { dtype: 'float32' });
    const hotT = scope.run('Transpose', { x: hotF }, { perm: [1, 0] }); // [S, N]
    const x2 = scope.run('Reshape', { x }, { shape: [n, tf.util.sizeFromShape(rest)] });
    const sum = scope.run('BatchMatMul', { a: hotT, b: x2 }, { transposeA: false, transposeB: false });
    return scope.keep(scope.run('Reshape', { x: sum }, { shape: [numSegments, ...rest] }));
  } finally {
    scope.dispose();
  }
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
