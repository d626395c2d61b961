/**
 * Our WebAssembly SIMD kernels (assembly/kernels.ts, built by `npm run build:kernels` into build/kernels.wasm),
 * instantiated on the heap of tfjs's wasm backend so they read and write tensors where the backend keeps them:
 * no copies in or out. One instance per backend instance (each worker thread has its own).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LabError } from '../../../../src-shared/errors.js';
import { tf } from '../../tf.js';

/** What the module exports; pointers are byte offsets into the backend's heap. */
interface SimdExports {
  linearCombination(out: number, table: number, count: number, length: number): void;
  scaledSumSquares(x: number, a: number, b: number, length: number, rtol: number, atol: number): number;
  columnSumsScratchBytes(cols: number): number;
  columnSums(x: number, out: number, rows: number, cols: number, scratch: number): void;
  transposeLastTwo(x: number, out: number, batches: number, rows: number, cols: number): void;
  reluGrad(dy: number, x: number, out: number, length: number): void;
  phaseInterleave(
    src: number, dst: number, n: number, blocksH: number, blocksW: number, sh: number, sw: number, c: number,
    offH: number, offW: number, inH: number, inW: number,
  ): void;
  groupNormScratchBytes(c: number, groups: number): number;
  groupNormForward(
    x: number, gamma: number, beta: number, y: number, mean: number, rstd: number,
    n: number, s: number, c: number, groups: number, epsilon: number, scratch: number,
  ): void;
  groupNormBackward(
    dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number,
    n: number, s: number, c: number, groups: number, scratch: number,
  ): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm we rely on (not in its public typings). */
export interface WasmBackend {
  wasm: {
    asm: { memory: WebAssembly.Memory };
    _malloc(bytes: number): number;
    _free(ptr: number): void;
  };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  /** A new tensor on the heap, holding a copy of `values` when given. */
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: undefined, values?: Float32Array): tf.TensorInfo;
}

export const SIMD_WASM_PATH = fileURLToPath(new URL('./build/kernels.wasm', import.meta.url));

let compiled: WebAssembly.Module | undefined;

function compile(): WebAssembly.Module {
  if (compiled) return compiled;
  let bytes: Buffer;
  try {
    bytes = readFileSync(SIMD_WASM_PATH);
  } catch (e) {
    throw new LabError('BACKEND_UNAVAILABLE', `the SIMD kernels are not built: ${SIMD_WASM_PATH} is missing (run \`npm run build:kernels\`)`, {
      path: SIMD_WASM_PATH,
      cause: (e as Error).message,
    });
  }
  compiled = new WebAssembly.Module(bytes);
  return compiled;
}

/** The module bound to one backend, with a scratch block on its heap that grows on demand. */
export class SimdKernels {
  readonly exports: SimdExports;
  private scratchPtr = 0;
  private scratchSize = 0;

  constructor(private readonly backend: WasmBackend) {
    const instance = new WebAssembly.Instance(compile(), { env: { memory: backend.wasm.asm.memory } });
    this.exports = instance.exports as unknown as SimdExports;
  }

  /** Heap offset of a tensor's data on this backend. */
  pointer(t: tf.TensorInfo): number {
    const data = this.backend.dataIdMap.get(t.dataId);
    if (data === undefined) throw new Error('SimdKernels: tensor is not on the wasm backend');
    return data.memoryOffset;
  }

  /** A scratch block of at least `bytes`, valid until the next call (the kernels are synchronous). */
  scratch(bytes: number): number {
    if (bytes > this.scratchSize) {
      if (this.scratchPtr !== 0) this.backend.wasm._free(this.scratchPtr);
      this.scratchSize = Math.max(bytes, 2 * this.scratchSize, 1024);
      this.scratchPtr = this.backend.wasm._malloc(this.scratchSize);
    }
    return this.scratchPtr;
  }

  /** The heap as f32/i32 views, taken fresh: an allocation may have grown (and detached) the old buffer. */
  heapF32(): Float32Array {
    return new Float32Array(this.backend.wasm.asm.memory.buffer);
  }

  heapI32(): Int32Array {
    return new Int32Array(this.backend.wasm.asm.memory.buffer);
  }
}

const instances = new WeakMap<object, SimdKernels>();

/** The SIMD kernels for this wasm backend instance (created on first use). */
export function simdKernels(backend: tf.KernelBackend | object): SimdKernels {
  let k = instances.get(backend);
  if (k === undefined) {
    k = new SimdKernels(backend as unknown as WasmBackend);
    instances.set(backend, k);
  }
  return k;
}
