/**
 * Each gradient worker thread runs its own copy of the engine (tfjs, the wasm module and its heap), so a worker
 * count is also a memory budget: measured with the shapes model, 8 → 32 workers took the training process from
 * 1.8 to 5.3 GB resident, about 145 MB per thread before any larger model's tensors. `--workers 64` on a laptop
 * would push it into swap or the OOM killer, so a count whose threads alone outgrow the machine's memory is
 * refused up front, with the figures (a container's memory limit counts, not the host's). (More workers than cores only warns: slower, not harmful; lab-service.ts.)
 * No tfjs here: the CLI and LabService check a request before the engine loads.
 */
import { availableParallelism, totalmem } from 'node:os';
import { LabError } from '../../../src-shared/errors';

/** Resident memory one worker thread adds, at least (measured above, rounded up). */
export const WORKER_THREAD_BYTES = 150 * 2 ** 20;

const GB = 2 ** 30;

/** Left for the training process's main thread (~0.5 GB resident in an epoch) and everything else running. */
export const HEADROOM_BYTES = GB;

/** The memory this process may use: the machine's, or a container's (cgroup) limit when lower. */
export function usableMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0; // 0: no limit known
  return limit > 0 ? Math.min(totalmem(), limit) : totalmem();
}

/** Throws INVALID_ARGUMENT (field `workers`) when `workers` threads and the headroom need more than the memory. */
export function checkWorkerMemory(workers: number, machineBytes = usableMemory()): void {
  const needed = workers * WORKER_THREAD_BYTES + HEADROOM_BYTES;
  if (needed <= machineBytes) return;
  const cores = availableParallelism();
  const fitting = Math.max(1, Math.floor((machineBytes - HEADROOM_BYTES) / WORKER_THREAD_BYTES));
  throw new LabError(
    'INVALID_ARGUMENT',
    `--workers ${workers}: each worker thread runs its own engine, about ${WORKER_THREAD_BYTES / 2 ** 20} MB, so ` +
      `${workers} need about ${(needed / GB).toFixed(1)} GB with the main process, more than the ${(machineBytes / GB).toFixed(1)} GB ` +
      `of memory here. Use at most ${fitting}; with ${cores} cores, --workers ${cores} is the fastest.`,
    { field: 'workers', workers, neededBytes: needed, machineBytes, cores },
  );
}
