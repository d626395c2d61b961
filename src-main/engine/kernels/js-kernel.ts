/**
 * Kernels written as plain loops over Float32Arrays, for the wasm and cpu backends alike. Inputs are read
 * where the backend keeps them (a view of the wasm heap, the cpu backend's own array), so nothing is copied.
 *
 * On wasm every output is allocated before any view is taken: an allocation may grow the heap, which
 * detaches earlier views of it.
 */
import { tf } from '../tf.js';

export const JS_KERNEL_BACKENDS = ['wasm', 'cpu'] as const;
export type JsKernelBackend = (typeof JS_KERNEL_BACKENDS)[number];

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuBackend {
  data: { get(dataId: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * Allocates float32 outputs of `outShapes` on `backend`, calls `compute(inputs, outputs)` with every array
 * and returns the outputs' TensorInfos. `compute` must write every output element: wasm outputs are reused
 * heap memory, not zeroed.
 */
export function runJsKernel(
  backendName: JsKernelBackend,
  backend: tf.KernelBackend,
  kernelName: string,
  inputs: readonly tf.TensorInfo[],
  outShapes: readonly number[][],
  compute: (inputs: Float32Array[], outputs: Float32Array[]) => void,
): tf.TensorInfo[] {
  for (const t of inputs) {
    if (t.dtype !== 'float32') throw new Error(`${kernelName} supports float32 only, got ${t.dtype}`);
  }
  if (backendName === 'wasm') {
    const wasm = backend as unknown as WasmBackend;
    const outs = outShapes.map((shape) => wasm.makeOutput(shape, 'float32'));
    compute(inputs.map((t) => wasm.typedArrayFromHeap(t)), outs.map((t) => wasm.typedArrayFromHeap(t)));
    return outs;
  }
  const cpu = backend as unknown as CpuBackend;
  const outArrays = outShapes.map((shape) => new Float32Array(tf.util.sizeFromShape(shape)));
  compute(inputs.map((t) => cpu.data.get(t.dataId).values), outArrays);
  return outShapes.map((shape, i) => cpu.makeTensorInfo(shape, 'float32', outArrays[i]));
}
