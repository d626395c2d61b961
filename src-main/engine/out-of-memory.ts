/**
 * The wasm backend's heap is 32-bit: at most 4 GiB. When a computation needs more, tfjs-wasm fails with
 * whatever the allocation hit (`Aborted()` from malloc, or a `RuntimeError: memory access out of bounds`), which
 * names neither memory nor the cause. Such a failure with the heap grown near its limit is told as what it is.
 */
import { LabError } from '../../src-shared/errors';
import { tf } from './tf';

/** Heap this close to the 4 GiB ceiling (it only grows): the failure was the heap running out. */
const NEAR_CEILING = 0.85 * 2 ** 32;

/** The wasm backend's current heap size, in bytes; undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength;
}

/**
 * `e` as OUT_OF_MEMORY when it is a WebAssembly failure (RuntimeError, or Emscripten's abort) with the wasm heap
 * (`heap`, by default the backend's now) near its ceiling, `advice` saying what would need less; otherwise undefined.
 */
export function outOfMemoryError(e: unknown, advice: string, heap = wasmHeapBytes()): LabError | undefined {
  // WebAssembly.RuntimeError (not in this project's TypeScript lib), or Emscripten's abort.
  const wasmFailure = e instanceof Error && (e.name === 'RuntimeError' || /^Aborted\(/.test(e.message));
  if (!wasmFailure || heap === undefined || heap < NEAR_CEILING) return undefined;
  return new LabError('OUT_OF_MEMORY', `the wasm backend ran out of memory (its heap is ${(heap / 2 ** 30).toFixed(2)} GiB of at most 4): ${advice}`, {
    heapBytes: heap,
    cause: (e as Error).message,
  });
}
