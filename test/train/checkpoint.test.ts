/** Checkpoint bytes: round trip, from Node Buffers at any offset, checksums, version 1 files, and clear errors for bad files. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkCheckpoint, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src-main/engine/train/checkpoint';
import type { EpochPosition } from '../../src-main/engine/train/epoch-position';
import { tinyConfig } from './fixtures';
import { expectNoTfjsFrom } from '../tfjs-loaded';

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

/** The checkpoint as the lab wrote it before checksums: magic ODLCKPT1 and no SHA-256 after the payload. */
function asVersion1(bytes: Uint8Array): Uint8Array {
  const v1 = bytes.slice(0, bytes.length - 32);
  v1.set(new TextEncoder().encode('ODLCKPT1'), 0);
  return v1;
}

/** The bytes as version `v` would label them, with their checksum made again (what a careless tool could write). */
function withVersion(bytes: Uint8Array, v: number): Uint8Array {
  const copy = bytes.slice();
  copy.set(new TextEncoder().encode(`ODLCKPT${v}`), 0);
  copy.set(createHash('sha256').update(copy.subarray(0, copy.length - 32)).digest(), copy.length - 32);
  return copy;
}

/** The checkpoint with one byte's bits flipped at `at` (counted from the end when negative). */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at < 0 ? copy.length + at : at] ^= 0xff;
  return copy;
}

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
    const countless = asVersion1(bytes);
    countless.set(new TextEncoder().encode(' '.repeat(',"averagedUpdates":5'.length)), at); // same length, valid JSON
    expect(decodeCheckpoint(countless).average).toEqual({ updates: 12, weights });
  });

  it('refuses a file that is not a checkpoint, or is truncated, naming it', () => {
    expect(() => decodeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint'), 'notes.txt')).toThrow(
      /notes\.txt is not a valid checkpoint: expected magic ODLCKPT2 \(or ODLCKPT1, or ODLCKPT3 for a resume point\), found "hello wo"/,
    );
    const bytes = encodeCheckpoint(checkpoint);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), 'run.ckpt')).toThrow(
      /run\.ckpt is not a valid checkpoint: expected \d+ bytes, found \d+/,
    );
  });

  it('writes version 2: ODLCKPT2, then the SHA-256 of every byte before it at the end', () => {
    const bytes = encodeCheckpoint(checkpoint);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('ODLCKPT2');
    const digest = createHash('sha256').update(bytes.subarray(0, bytes.length - 32)).digest();
    expect(Buffer.from(bytes.subarray(bytes.length - 32)).equals(digest)).toBe(true);
    // Deterministic: the same checkpoint gives the same bytes (resume tests and runWithCheckpoint compare bytes).
    expect(encodeCheckpoint(checkpoint)).toEqual(bytes);
    expect(checkCheckpoint(bytes)).toEqual({ version: 2, epoch: 3, step: 12 });
  });

  it('refuses a checkpoint whose weights, header or checksum were damaged, naming it', () => {
    const bytes = encodeCheckpoint(checkpoint);
    const damaged = /^INVALID_ARGUMENT: flipped\.ckpt is not a valid checkpoint: its content does not match its checksum \(damaged\)$/;
    // The last weight's float (-7.5) sits just before the optimiser's six floats and the 32-byte checksum.
    const inWeights = bytes.length - 32 - 6 * 4 - 1;
    expect(() => decodeCheckpoint(flipped(bytes, inWeights), 'flipped.ckpt')).toThrow(damaged);
    expect(() => checkCheckpoint(flipped(bytes, inWeights), 'flipped.ckpt')).toThrow(damaged);
    // In the header: a digit of the epoch (still valid JSON), then a quote (no longer JSON).
    const header = new TextDecoder().decode(bytes);
    const epochDigit = header.indexOf('"epoch":3') + '"epoch":'.length;
    const epochTo7 = bytes.slice();
    epochTo7[epochDigit] = '7'.charCodeAt(0);
    expect(() => decodeCheckpoint(epochTo7, 'flipped.ckpt')).toThrow(damaged);
    expect(() => decodeCheckpoint(flipped(bytes, header.indexOf('"epoch"')), 'flipped.ckpt')).toThrow(damaged);
    expect(() => decodeCheckpoint(flipped(bytes, -1), 'flipped.ckpt')).toThrow(damaged);
  });

  it('reads version 1 checkpoints (no checksum), which cannot tell damaged weights', () => {
    const v1 = asVersion1(encodeCheckpoint(checkpoint));
    expect(decodeCheckpoint(v1)).toEqual(checkpoint);
    expect(checkCheckpoint(v1)).toEqual({ version: 1, epoch: 3, step: 12 });
    expect(() => decodeCheckpoint(v1.subarray(0, v1.length - 4), 'old.ckpt')).toThrow(/old\.ckpt is not a valid checkpoint: expected \d+ bytes, found \d+/);
    expect(decodeCheckpoint(flipped(v1, -1)).optimizer.tensors[0].data[5]).not.toBe(checkpoint.optimizer.tensors[0].data[5]);
    // A damaged header that is still JSON is refused naming the field, not with a TypeError.
    const header = new TextDecoder().decode(v1);
    const noWeights = v1.slice();
    const at = header.indexOf('"weights":[');
    noWeights.set(new TextEncoder().encode('"weightz"'), at);
    expect(() => decodeCheckpoint(noWeights, 'old.ckpt')).toThrow(/^INVALID_ARGUMENT: old\.ckpt is not a valid checkpoint: header field weights: expected a list of tensor shapes$/);
  });

  it('refuses non-finite values, naming the tensor and element: damage a version 1 file cannot tell, or weights that diverged', () => {
    const with_ = (edit: (c: Checkpoint) => void): Checkpoint => {
      const c = structuredClone(checkpoint);
      edit(c);
      return c;
    };
    const nanWeight = asVersion1(encodeCheckpoint(with_((c) => (c.weights[1].data[0] = NaN))));
    const refusal = /^INVALID_ARGUMENT: old\.ckpt is not a valid checkpoint: weight tensor 1 holds NaN at element 0 \(damaged, or weights that had diverged\)$/;
    expect(() => decodeCheckpoint(nanWeight, 'old.ckpt')).toThrow(refusal);
    expect(() => checkCheckpoint(nanWeight, 'old.ckpt')).toThrow(refusal);
    const infState = encodeCheckpoint(with_((c) => (c.optimizer.tensors[0].data[4] = -Infinity)));
    expect(() => decodeCheckpoint(infState, 'new.ckpt')).toThrow(/new\.ckpt is not a valid checkpoint: optimizer state tensor 0 holds -Infinity at element 4 /);
    const averaged = with_((c) => (c.average = { updates: 2, weights: structuredClone(c.weights) }));
    averaged.average!.weights[0].data[5] = Infinity;
    expect(() => checkCheckpoint(encodeCheckpoint(averaged))).toThrow(/averaged weight tensor 0 holds Infinity at element 5 /);
  });

  it("refuses a newer format by name, and a file too short for a header", () => {
    const v4 = encodeCheckpoint(checkpoint);
    v4.set(new TextEncoder().encode('ODLCKPT4'), 0);
    expect(() => decodeCheckpoint(v4, 'new.ckpt')).toThrow(
      /new\.ckpt is not a valid checkpoint: it is in format ODLCKPT4, written by a newer Neural ODE Lab \(this version reads up to ODLCKPT3\); update the lab/,
    );
    expect(() => decodeCheckpoint(new TextEncoder().encode('ODLCKPT2'), 'stub.ckpt')).toThrow(/stub\.ckpt is not a valid checkpoint: expected at least 44 bytes, found 8/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('ODLCKPT1ab'), 'stub.ckpt')).toThrow(/expected at least 12 bytes, found 10/);
  });

  it('writes a resume point (a position inside an epoch) as version 3, and only a resume point', () => {
    const position: EpochPosition = {
      batches: 2,
      lossSum: 0.1 + 0.2, // a float64 sum that must come back to the last bit
      correct: 7,
      seen: 120,
      stepsAccepted: 40,
      stepsRejected: 1,
      peakTensorBytes: 123456,
      nfeForward: [20, 26],
      nfeBackward: [20, 21],
      seconds: 12.5,
    };
    const resumePoint = { ...checkpoint, step: 14, optimizer: { ...checkpoint.optimizer, iterations: 14 }, position };
    const bytes = encodeCheckpoint(resumePoint);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('ODLCKPT3');
    expect(new TextDecoder().decode(encodeCheckpoint(checkpoint).subarray(0, 8))).toBe('ODLCKPT2');
    expect(decodeCheckpoint(bytes)).toEqual(resumePoint);
    expect(decodeCheckpoint(bytes).position!.lossSum).toBe(0.30000000000000004);
    expect(checkCheckpoint(bytes)).toEqual({ version: 3, epoch: 3, step: 14, batch: 2 });
    // A lab of version 2 refuses ODLCKPT3 as a newer lab's (the test above), rather than read it as an epoch's end.
    // The version and the position go together; a position that would skew the epoch's sums is refused.
    expect(() => decodeCheckpoint(withVersion(encodeCheckpoint(checkpoint), 3), 'r.ckpt')).toThrow(
      /r\.ckpt is not a valid checkpoint: a version 3 checkpoint \(a resume point\) without its position in the epoch/,
    );
    expect(() => decodeCheckpoint(withVersion(bytes, 2))).toThrow(/a version 2 checkpoint with a position in an epoch \(only version 3 holds one\)/);
    const short = encodeCheckpoint({ ...resumePoint, position: { ...position, nfeBackward: [20] } });
    expect(() => checkCheckpoint(short)).toThrow(/header field position: nfeBackward: expected 2 counts, one per batch done/);
    const nan = encodeCheckpoint({ ...resumePoint, position: { ...position, lossSum: NaN } });
    expect(() => checkCheckpoint(nan)).toThrow(/header field position: lossSum: expected a finite number, found null/);
  });

  it('loads no tfjs, nor does the run store that checks checkpoints with it', () => {
    expectNoTfjsFrom(['src-main/engine/train/checkpoint.ts', 'src-main/store/index.ts']);
  });
});
