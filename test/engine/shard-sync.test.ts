/**
 * The gradient workers' norm rendezvous, across two real threads: both shards receive the same totals, banks
 * alternate so back-to-back reductions do not mix, and a failing shard releases a waiting peer with an error
 * instead of leaving it blocked.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { LabError } from '../../src-shared/errors';
import { PEER_FAILED, ShardSync, shardSyncBytes } from '../../src-main/engine/parallel/shard-sync';

const bootstrap = new URL('../../src-main/engine/parallel/tsx-bootstrap.mjs', import.meta.url);
const entry = new URL('./workers/shard-peer.ts', import.meta.url).href;

function peer(buffer: SharedArrayBuffer, mode: 'reduce' | 'fail', delayMs: number): { worker: Worker; message: Promise<unknown> } {
  const worker = new Worker(bootstrap, { workerData: { entry, buffer, mode, delayMs } });
  const message = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, message };
}

describe('ShardSync', () => {
  it('gives both shards the same totals, reduction after reduction', async () => {
    const buffer = new SharedArrayBuffer(shardSyncBytes(2, 2));
    ShardSync.reset(buffer, 2);
    const { worker, message } = peer(buffer, 'reduce', 50);
    const here = new ShardSync(buffer, 0, 2);
    const first = here.allReduce(1, 10, Float64Array.from([0.5, -1]));
    const second = here.allReduce(3, 30, Float64Array.from([2, 3]));
    const there = (await message) as [typeof first, typeof second];
    expect(first).toEqual({ sum: 3, count: 30, shared: Float64Array.from([10.5, 19]) });
    expect(second).toEqual({ sum: 8, count: 80, shared: Float64Array.from([3, 4]) });
    expect(there[0]).toEqual(first);
    expect(there[1]).toEqual(second);
    await worker.terminate();
  });

  it('releases a waiting shard with a peer-failure error when the other shard fails', async () => {
    const buffer = new SharedArrayBuffer(shardSyncBytes(2, 1));
    ShardSync.reset(buffer, 2);
    const { worker, message } = peer(buffer, 'fail', 200);
    const here = new ShardSync(buffer, 0, 2);
    const started = performance.now();
    let error: unknown;
    try {
      here.allReduce(1, 1, new Float64Array(0)); // blocks until the peer aborts
    } catch (e) {
      error = e;
    }
    expect(await message).toBe('aborted');
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).details[PEER_FAILED]).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    await worker.terminate();
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
