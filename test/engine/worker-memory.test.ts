/** The worker-count memory budget (worker-memory.ts): refused with the figures, only past the machine's memory. */
import { describe, expect, it } from 'vitest';
import { checkWorkerMemory, HEADROOM_BYTES, WORKER_THREAD_BYTES } from '../../src-main/engine/parallel/worker-memory';
import { LabError } from '../../src-shared/errors';

describe('checkWorkerMemory', () => {
  const machine = 8 * 2 ** 30; // an 8 GB laptop

  it('accepts as many workers as the memory holds', () => {
    const fits = Math.floor((machine - HEADROOM_BYTES) / WORKER_THREAD_BYTES);
    expect(fits).toBe(47);
    expect(() => checkWorkerMemory(fits, machine)).not.toThrow();
  });

  it('refuses one more, naming the field, the need and the machine', () => {
    let error: unknown;
    try {
      checkWorkerMemory(64, machine);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LabError);
    const { code, reason, details } = error as LabError;
    expect(code).toBe('INVALID_ARGUMENT');
    expect(reason).toMatch(/^--workers 64: each worker thread runs its own engine, about 150 MB, so 64 need about 10\.4 GB with the main process, more than the 8\.0 GB of memory here\. Use at most 47; with \d+ cores, --workers \d+ is the fastest\.$/);
    expect(details).toMatchObject({ field: 'workers', workers: 64, machineBytes: machine });
  });
});
