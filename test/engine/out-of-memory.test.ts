/** A wasm failure at the heap's 4 GiB ceiling is told as OUT_OF_MEMORY; anything else is left as it was. */
import { describe, expect, it } from 'vitest';
import { outOfMemoryError } from '../../src-main/engine/out-of-memory';
import { LabError } from '../../src-shared/errors';

/** What tfjs-wasm throws when an allocation fails: WebAssembly.RuntimeError, or Emscripten's abort(). */
const runtimeError = Object.assign(new Error('memory access out of bounds'), { name: 'RuntimeError' });
const aborted = new Error('Aborted(). Build with -sASSERTIONS for more info.');

describe('outOfMemoryError', () => {
  it('names a wasm failure with the heap at its ceiling, saying what would need less', () => {
    for (const e of [runtimeError, aborted]) {
      const error = outOfMemoryError(e, 'try a smaller --batch-size', 4_127_326_208);
      expect(error?.message).toBe('OUT_OF_MEMORY: the wasm backend ran out of memory (its heap is 3.84 GiB of at most 4): try a smaller --batch-size');
      expect(error?.details).toEqual({ heapBytes: 4_127_326_208, cause: e.message });
    }
  });

  it('leaves alone a wasm failure with room in the heap, other errors, and other backends', () => {
    expect(outOfMemoryError(aborted, 'advice', 2 ** 30)).toBeUndefined();
    expect(outOfMemoryError(new TypeError('x is undefined'), 'advice', 2 ** 32)).toBeUndefined();
    expect(outOfMemoryError(runtimeError, 'advice', undefined)).toBeUndefined();
  });

  it("adds what would need less to the tensor budget's own stop, keeping where it was", () => {
    const stop = new LabError('OUT_OF_MEMORY', 'dopri5 step 123 at t=0.1: its tensors hold 3.26 GiB', { solverStep: 123 });
    const error = outOfMemoryError(stop, 'try --gradient adjoint', 2 ** 30);
    expect(error?.message).toBe('OUT_OF_MEMORY: dopri5 step 123 at t=0.1: its tensors hold 3.26 GiB; try --gradient adjoint');
    expect(error?.details).toEqual({ solverStep: 123 });
  });
});
