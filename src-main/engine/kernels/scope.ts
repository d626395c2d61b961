/**
 * Composite kernels are built from a backend's own kernels, called through their kernelFuncs (not through
 * tf ops, which would record on the tape and allocate engine tensors). Each call returns a TensorInfo whose
 * data the backend owns; this scope frees all of them when the composite kernel returns or throws, except
 * the one it hands back as its output.
 */
import { tf } from '../tf.js';

export class KernelScope {
  private readonly owned: tf.TensorInfo[] = [];

  constructor(
    private readonly backend: tf.KernelBackend,
    private readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (kernel === undefined) {
      throw new Error(`Kernel '${kernelName}' not registered for backend '${this.backendName}'`);
    }
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`KernelScope.run: '${kernelName}' has several outputs`);
    this.owned.push(out);
    return out;
  }

  /** Takes ownership of `t`, made by a kernel called directly: it will be freed by dispose(). */
  adopt(t: tf.TensorInfo): tf.TensorInfo {
    this.owned.push(t);
    return t;
  }

  /** Hands `t` to the caller: it will not be freed by dispose(). */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    const i = this.owned.lastIndexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    return t;
  }

  /** Frees every intermediate; refcounted, so kernels that alias an input (Reshape, Identity) are safe. */
  dispose(): void {
    for (const t of this.owned.splice(0)) this.backend.disposeData(t.dataId);
  }
}
