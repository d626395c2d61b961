/**
 * The wasm backend's heap is 32-bit: at most 4 GiB. When a computation needs more, tfjs-wasm fails with
 * whatever the allocation hit (`Aborted()` from malloc, or a `RuntimeError: memory access out of bounds`), which
 * names neither memory nor the cause. Such a failure with the heap grown near its limit is told as what it is.
 */
import { isLabError, LabError } from '../../src-shared/errors';
import { tf } from './tf';

/** Heap this close to the 4 GiB ceiling (it only grows): the failure was the heap running out. */
const NEAR_CEILING = 0.85 * 2 ** 32;

/**
 * Live tensor bytes at which a solve stops with OUT_OF_MEMORY before it meets the ceiling: there tfjs-wasm aborts
 * on the main thread, and in a gradient worker thread it was seen to stall for minutes instead (2 workers, a direct
 * gradient through 800 dopri5 steps). Room is left for the step's own temporaries and the backward pass's.
 */
export const WASM_TENSOR_BUDGET = 3.25 * 2 ** 30;

/**
 * Throws OUT_OF_MEMORY, saying `where`, once the wasm backend's live tensors exceed WASM_TENSOR_BUDGET; other
 * backends are not checked (their limits are the machine's). A counter read: cheap enough for every solver step.
 */
export function checkTensorBudget(where: () => { message: string; details: Record<string, unknown> }): void {
  if (tf.getBackend() !== 'wasm') return;
  const bytes = tf.memory().numBytes;
  if (bytes <= WASM_TENSOR_BUDGET) return;
  const { message, details } = where();
  throw new LabError('OUT_OF_MEMORY', `${message}: its tensors hold ${(bytes / 2 ** 30).toFixed(2)} GiB of the wasm backend's 4 GiB heap`, {
    ...details,
    tensorBytes: bytes,
  });
}

/** The wasm backend's current heap size, in bytes; undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength;
}

/**
 * `e` as OUT_OF_MEMORY with `advice` (what would need less): the tensor budget's stop, or a WebAssembly failure
 * (RuntimeError, or Emscripten's abort) with the wasm heap (`heap`, by default the backend's now) near its ceiling;
 * otherwise undefined.
 */
export function outOfMemoryError(e: unknown, advice: string, heap = wasmHeapBytes()): LabError | undefined {
  // The budget's own stop (checkTensorBudget), here or in a gradient worker: what would need less, added.
  if (isLabError(e, 'OUT_OF_MEMORY')) return new LabError('OUT_OF_MEMORY', `${e.reason}; ${advice}`, e.details);
  // WebAssembly.RuntimeError (not in this project's TypeScript lib), or Emscripten's abort.
  const wasmFailure = e instanceof Error && (e.name === 'RuntimeError' || /^Aborted\(/.test(e.message));
  if (!wasmFailure || heap === undefined || heap < NEAR_CEILING) return undefined;
  return new LabError('OUT_OF_MEMORY', `the wasm backend ran out of memory (its heap is ${(heap / 2 ** 30).toFixed(2)} GiB of at most 4): ${advice}`, {
    heapBytes: heap,
    cause: (e as Error).message,
  });
}
