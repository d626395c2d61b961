/**
 * The gradient workers' norm rendezvous, across two real threads: both shards receive the same totals, banks
 * alternate so back-to-back reductions do not mix, and a failing shard releases a waiting peer with an error
 * instead of leaving it blocked. Both shards run in worker threads: a shard in the test's own thread would block it
 * in Atomics.wait until its peer arrived, so a peer that failed to load or died would hang the test, not fail it.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PEER_FAILED, ShardSync, shardSyncBytes } from '../../src-main/engine/parallel/shard-sync';
import type { Reduction, ShardPeerData, ShardPeerResult } from './workers/shard-peer';

const bootstrap = new URL('../../src-main/engine/parallel/tsx-bootstrap.mjs', import.meta.url);
const entry = new URL('./workers/shard-peer.ts', import.meta.url).href;
/** Loading a worker through tsx takes ~0.3 s; far more on a busy machine. */
const LOAD_MS = 60_000;
/** Once both have loaded, the reductions themselves take milliseconds. */
const RUN_MS = 10_000;

/** Rejects with `what` when `promise` takes longer than `ms`. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

type Part = Omit<ShardPeerData, 'buffer' | 'index' | 'workers'>;

/**
 * Runs shard i of a fresh 2-shard buffer as parts[i] in a worker: waits until every worker has loaded and said
 * 'ready' (a worker's error or exit fails the wait), starts them together, and returns what each posted. Whatever
 * happens, the abort flag is raised (a shard still waiting lets go) and the workers are terminated.
 */
async function runShards(capacity: number, parts: [Part, Part]): Promise<ShardPeerResult[]> {
  const buffer = new SharedArrayBuffer(shardSyncBytes(2, capacity));
  ShardSync.reset(buffer, 2);
  const shards = parts.map((part, index) => {
    const workerData: ShardPeerData & { entry: string } = { ...part, buffer, index, workers: 2, entry };
    const worker = new Worker(bootstrap, { workerData });
    const messages: unknown[] = [];
    let waiting: { count: number; resolve: () => void; reject: (e: Error) => void } | undefined;
    let failure: Error | undefined;
    const settle = () => {
      if (!waiting) return;
      if (messages.length >= waiting.count) waiting.resolve();
      else if (failure) waiting.reject(failure);
      else return;
      waiting = undefined;
    };
    worker.on('message', (m) => {
      messages.push(m);
      settle();
    });
    worker.on('error', (e) => {
      failure ??= new Error(`shard ${index}'s worker failed: ${e.message}`);
      settle();
    });
    worker.on('exit', (code) => {
      failure ??= new Error(`shard ${index}'s worker exited (code ${code}) after ${messages.length} message(s)`);
      settle();
    });
    /** Resolves with the message-th message (1-based) once posted; rejects if the worker fails first. */
    const nth = (count: number) =>
      new Promise<unknown>((resolve, reject) => {
        waiting = { count, resolve: () => resolve(messages[count - 1]), reject };
        settle();
      });
    return { worker, nth };
  });
  try {
    const ready = await deadline(Promise.all(shards.map((s) => s.nth(1))), LOAD_MS, 'loading the shard workers');
    expect(ready).toEqual(['ready', 'ready']);
    shards.forEach((s) => s.worker.postMessage('go'));
    return (await deadline(Promise.all(shards.map((s) => s.nth(2))), RUN_MS, 'the shards\' results')) as ShardPeerResult[];
  } finally {
    ShardSync.abort(buffer);
    await Promise.all(shards.map((s) => s.worker.terminate()));
  }
}

const reduce = (reductions: Reduction[], delayMs = 0): Part => ({ mode: 'reduce', reductions, delayMs });

describe('ShardSync', () => {
  it('gives both shards the same totals, reduction after reduction', async () => {
    // Shard 1 starts 50 ms late: shard 0 waits at the barrier for each reduction's partials.
    const [here, there] = await runShards(2, [
      reduce([
        [1, 10, [0.5, -1]],
        [3, 30, [2, 3]],
      ]),
      reduce(
        [
          [2, 20, [10, 20]],
          [5, 50, [1, 1]],
        ],
        50,
      ),
    ]);
    const totals = [
      { sum: 3, count: 30, shared: Float64Array.from([10.5, 19]) },
      { sum: 8, count: 80, shared: Float64Array.from([3, 4]) },
    ];
    expect(here).toEqual({ totals, ms: expect.any(Number) });
    expect(there).toEqual({ totals, ms: expect.any(Number) });
  });

  it('releases a waiting shard with a peer-failure error when the other shard fails', async () => {
    const [here, there] = await runShards(1, [reduce([[1, 1, []]]), { mode: 'fail', reductions: [], delayMs: 200 }]);
    expect(there).toBe('aborted');
    // Shard 0 blocked until the abort 200 ms in, then failed with a LabError marked as a peer's failure.
    expect(here).toMatchObject({ error: { labError: true, code: 'WORKER_FAILED', details: { [PEER_FAILED]: true } } });
    const { ms } = here as { ms: number };
    expect(ms).toBeGreaterThan(100);
    expect(ms).toBeLessThan(5000);
  });

  it('fails at once once a peer has failed, and refuses vectors beyond its capacity', () => {
    const buffer = new SharedArrayBuffer(shardSyncBytes(2, 2));
    ShardSync.reset(buffer, 2);
    new ShardSync(buffer, 1, 2).abort();
    expect(() => new ShardSync(buffer, 0, 2).allReduce(1, 1, new Float64Array(2))).toThrow(/another shard of the batch failed/);
    ShardSync.reset(buffer, 2);
    expect(() => new ShardSync(buffer, 0, 2).allReduce(1, 1, new Float64Array(3))).toThrow(/exceeds the slot capacity 2/);
  });
});
