/**
 * The gradient workers' rendezvous for batch-wide error norms (ode/norm-reduction.ts): a SharedArrayBuffer
 * holding a barrier and one slot per shard. Each shard writes its partial sums to its slot and waits at the
 * barrier; then every shard adds all slots up in shard order, so all get bit-identical totals and take the same
 * step. Slots alternate between two banks by barrier generation: a fast shard may already write the next
 * reduction's partials while a slow one still reads this one's.
 *
 * A shard that fails raises the abort flag, so its peers stop waiting and fail too (never a hang); the pool
 * then reports the original failure, not theirs.
 */
import { LabError } from '../../../src-shared/errors';
import type { NormReduction, ShardTotals } from '../ode/norm-reduction';

const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;
const PARTIES = 3;
const CONTROL_BYTES = 16;
/** How long a waiting shard sleeps between checks of the abort flag (ms). */
const WAIT_SLICE_MS = 100;

/** Bytes for `workers` shards sharing vectors of up to `capacity` values. */
export function shardSyncBytes(workers: number, capacity: number): number {
  return CONTROL_BYTES + 2 * workers * (2 + capacity) * 8;
}

/** Marks errors raised because another shard failed first. */
export const PEER_FAILED = 'peerFailed';

export class ShardSync implements NormReduction {
  private readonly control: Int32Array;
  private readonly slots: Float64Array;
  private readonly slotLength: number;

  /** `workers`: the number of shards the buffer was sized for (shardSyncBytes); a batch may use fewer. */
  constructor(
    buffer: SharedArrayBuffer,
    private readonly index: number,
    private readonly workers: number,
  ) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.slots = new Float64Array(buffer, CONTROL_BYTES);
    this.slotLength = Math.floor(this.slots.length / (2 * workers));
  }

  /** Prepares the buffer for a batch of `parties` shards (pool side, while no shard is running). */
  static reset(buffer: SharedArrayBuffer, parties: number): void {
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    for (const i of [ARRIVED, GENERATION, ABORTED]) Atomics.store(control, i, 0);
    Atomics.store(control, PARTIES, parties);
  }

  allReduce(sum: number, count: number, shared: Float64Array): ShardTotals {
    if (2 + shared.length > this.slotLength) {
      throw new Error(`ShardSync: a shared vector of ${shared.length} values exceeds the slot capacity ${this.slotLength - 2}`);
    }
    const parties = Atomics.load(this.control, PARTIES);
    const bank = Atomics.load(this.control, GENERATION) & 1;
    const slot = (i: number) => this.slots.subarray((bank * this.workers + i) * this.slotLength);
    const own = slot(this.index);
    own[0] = sum;
    own[1] = count;
    own.set(shared, 2);
    this.arrive(parties);
    const totals: ShardTotals = { sum: 0, count: 0, shared: new Float64Array(shared.length) };
    for (let i = 0; i < parties; i++) {
      const s = slot(i);
      totals.sum += s[0];
      totals.count += s[1];
      for (let k = 0; k < shared.length; k++) totals.shared[k] += s[2 + k];
    }
    return totals;
  }

  /** Lets waiting peers go with an error (this shard failed and will not arrive). */
  abort(): void {
    ShardSync.abort(this.control.buffer as SharedArrayBuffer);
  }

  /** The same from outside the shards (the pool, when a worker thread dies). */
  static abort(buffer: SharedArrayBuffer): void {
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    Atomics.store(control, ABORTED, 1);
    Atomics.notify(control, GENERATION);
  }

  private arrive(parties: number): void {
    const generation = Atomics.load(this.control, GENERATION);
    if (Atomics.add(this.control, ARRIVED, 1) + 1 === parties) {
      Atomics.store(this.control, ARRIVED, 0);
      Atomics.add(this.control, GENERATION, 1);
      Atomics.notify(this.control, GENERATION);
      return;
    }
    while (Atomics.load(this.control, GENERATION) === generation) {
      if (Atomics.load(this.control, ABORTED) === 1) {
        throw new LabError('WORKER_FAILED', `shard ${this.index} stopped: another shard of the batch failed`, {
          [PEER_FAILED]: true,
        });
      }
      Atomics.wait(this.control, GENERATION, generation, WAIT_SLICE_MS);
    }
  }
}
