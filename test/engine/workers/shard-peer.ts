/**
 * Test worker: one shard of a ShardSync. Posts 'ready' once loaded, waits for the test's 'go', then after
 * `delayMs` plays its part. Mode 'reduce' runs its reductions in turn and posts the totals it received, or the
 * error one threw (a LabError's code and details survive the message; its class does not); mode 'fail' raises the
 * abort flag (a shard failing while its peer waits) and posts 'aborted'. Each shard runs in its own worker so that
 * the test's thread never blocks in Atomics.wait: if a shard never arrives, the test can still fail.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LabError } from '../../../src-shared/errors';
import { ShardSync } from '../../../src-main/engine/parallel/shard-sync';
import type { ShardTotals } from '../../../src-main/engine/ode/norm-reduction';

/** One allReduce call: its partial sum, count and shared vector. */
export type Reduction = [sum: number, count: number, shared: number[]];

export interface ShardPeerData {
  buffer: SharedArrayBuffer;
  index: number;
  workers: number;
  mode: 'reduce' | 'fail';
  delayMs: number;
  reductions: Reduction[];
}

export type ShardPeerResult =
  | { totals: ShardTotals[]; ms: number }
  | { error: { message: string; labError: boolean; code?: string; details?: Record<string, unknown> }; ms: number }
  | 'aborted';

const { buffer, index, workers, mode, delayMs, reductions } = workerData as ShardPeerData;
const sync = new ShardSync(buffer, index, workers);
const port = parentPort!;

port.once('message', () => {
  setTimeout(() => {
    if (mode === 'fail') {
      sync.abort();
      port.postMessage('aborted' satisfies ShardPeerResult);
      return;
    }
    const started = performance.now();
    let result: ShardPeerResult;
    try {
      const totals = reductions.map(([sum, count, shared]) => sync.allReduce(sum, count, Float64Array.from(shared)));
      result = { totals, ms: performance.now() - started };
    } catch (e) {
      const error =
        e instanceof LabError
          ? { message: e.message, labError: true, code: e.code, details: e.details }
          : { message: String(e instanceof Error ? e.message : e), labError: false };
      result = { error, ms: performance.now() - started };
    }
    port.postMessage(result);
  }, delayMs);
});
port.postMessage('ready');
