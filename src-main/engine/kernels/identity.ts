/**
 * Identity for wasm without the copy. tfjs runs Identity for every tensor a kernel saves for its gradient
 * (and for tf.clone), and the shipped wasm kernel copies the whole buffer each time: 45 copies of 2 MB in one
 * VJP of the ODENet dynamics. Tensor data is immutable (a Variable's assign swaps its dataId, never writes
 * in place), so sharing the buffer under a reference count is safe; the cpu backend's Identity does the same.
 */
import { tf } from '../tf.js';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Wraps the shipped kernel: strings (kept outside the heap) still go through it. */
export function aliasIdentityConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    ...shipped,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return shipped.kernelFunc(args);
      (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}
