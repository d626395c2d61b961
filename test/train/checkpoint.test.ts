/** Checkpoint bytes: round trip, from Node Buffers at any offset, and clear errors for bad files. */
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src-main/engine/train/checkpoint';
import { tinyConfig } from './fixtures';

const checkpoint: Checkpoint = {
  config: tinyConfig(),
  epoch: 3,
  step: 12,
  weights: [
    { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { shape: [1], data: Float32Array.from([-7.5]) },
  ],
  optimizer: { iterations: 12, tensors: [{ shape: [2, 3], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) }] },
};

describe('checkpoints', () => {
  it('round-trips, also through a pooled Node Buffer at an odd offset', () => {
    const bytes = encodeCheckpoint(checkpoint);
    expect(decodeCheckpoint(bytes)).toEqual(checkpoint);
    // Small Buffers come from a shared pool: the view starts at some offset of a larger ArrayBuffer.
    const pooled = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(bytes)]).subarray(3);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    expect(decodeCheckpoint(pooled)).toEqual(checkpoint);
  });

  it('round-trips averaged weights after the optimiser state, and reads checkpoints without them', () => {
    const weights = checkpoint.weights.map((w) => ({ shape: w.shape, data: w.data.map((x) => x / 2) }));
    const trainedOn = [{ dataset: checkpoint.config.dataset, trainSize: 120, seed: 3 }, { dataset: checkpoint.config.dataset, seed: 4 }];
    const withAverage = { ...checkpoint, average: { updates: 5, weights }, trainedOn };
    expect(decodeCheckpoint(encodeCheckpoint(withAverage))).toEqual(withAverage);
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).not.toHaveProperty('average');
    const short = { ...checkpoint, average: { updates: 5, weights: weights.slice(1) } };
    expect(() => decodeCheckpoint(encodeCheckpoint(short), 'short.ckpt')).toThrow(
      /short\.ckpt is not a valid checkpoint: expected 2 averaged weight tensors, found 1/,
    );
    const beyond = { ...checkpoint, average: { updates: 13, weights } };
    expect(() => decodeCheckpoint(encodeCheckpoint(beyond), 'beyond.ckpt')).toThrow(
      /beyond\.ckpt is not a valid checkpoint: the average's update count 13 is not an integer from 0 to the step, 12/,
    );
    // The first averaging checkpoints stored no count: their average covered every update (the step).
    const bytes = encodeCheckpoint(withAverage);
    const header = new TextDecoder().decode(bytes);
    const at = header.indexOf(',"averagedUpdates":5');
    expect(at).toBeGreaterThan(0);
    const countless = bytes.slice();
    countless.set(new TextEncoder().encode(' '.repeat(',"averagedUpdates":5'.length)), at); // same length, valid JSON
    expect(decodeCheckpoint(countless).average).toEqual({ updates: 12, weights });
  });

  it('refuses a file that is not a checkpoint, or is truncated, naming it', () => {
    expect(() => decodeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint'), 'notes.txt')).toThrow(
      /notes\.txt is not a valid checkpoint: expected magic ODLCKPT1/,
    );
    const bytes = encodeCheckpoint(checkpoint);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), 'run.ckpt')).toThrow(
      /run\.ckpt is not a valid checkpoint: expected \d+ bytes, found \d+/,
    );
  });
});
