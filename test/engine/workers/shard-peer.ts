/**
 * Test worker: shard 1 of a ShardSync. Mode 'reduce' adds its values and posts the totals it received;
 * mode 'fail' raises the abort flag after a delay (a shard failing while its peer waits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ShardSync } from '../../../src-main/engine/parallel/shard-sync';

const { buffer, mode, delayMs } = workerData as { buffer: SharedArrayBuffer; mode: 'reduce' | 'fail'; delayMs: number };
const sync = new ShardSync(buffer, 1, 2);
setTimeout(() => {
  if (mode === 'fail') {
    sync.abort();
    parentPort!.postMessage('aborted');
    return;
  }
  const first = sync.allReduce(2, 20, Float64Array.from([10, 20]));
  const second = sync.allReduce(5, 50, Float64Array.from([1, 1]));
  parentPort!.postMessage([first, second]);
}, delayMs);
