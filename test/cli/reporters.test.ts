/**
 * What `odelab train` shows on a terminal: the epoch's bar, then a bar for the test-set evaluation (which can take
 * longer than the epoch's batches), cleared when its result is printed; the epoch's bar comes back after an
 * evaluation mid-epoch. Rendered into a fake TTY that keeps what was written.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../src-main/cli/reporters';
import type { BatchEvent, EpochEvent, RunEvent } from '../../src-shared/run-events';
import { tinyConfig } from '../train/fixtures';

/** A terminal as cli-progress drives it (through readline's escapes): a return to column 1 kept as \r, a line
 * cleared as ⌫, other cursor moves dropped. */
class FakeTty extends Writable {
  readonly isTTY = true;
  readonly columns = 200;
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk
      .toString()
      .replaceAll('\x1b[1G', '\r')
      .replaceAll('\x1b[2K', '⌫')
      .replace(new RegExp(String.raw`\x1b(\[[0-9;?]*[a-zA-Z]|[78])`, 'g'), '');
    done();
  }
}

const batch = (b: number): BatchEvent => ({ event: 'batch', epoch: 1, batch: b, step: b, loss: 2 - b / 10, accuracy: 0.25 * b, nfeForward: 20, nfeBackward: 20, seconds: 1 });
const epoch = { event: 'epoch', epoch: 1, step: 4, loss: 1.5, accuracy: 0.5, testLoss: 1.25, testAccuracy: 0.625, nfeForwardMean: 20, nfeForwardMax: 20, nfeBackwardMean: 20, nfeBackwardMax: 20, seconds: 30 } as EpochEvent;

describe('progressReporter', () => {
  it('shows the batches, then the images a test-set evaluation has scored, in its own bar cleared by its result', () => {
    const out = new FakeTty();
    const bars = new FakeTty();
    const { event, testing } = progressReporter({ out, bars });
    const started = { event: 'started', config: tinyConfig(), backend: 'wasm', parameterCount: 10, trainSize: 240, testSize: 6000, batchesPerEpoch: 4, startEpoch: 0, startStep: 0, datasetSource: 'generated' } as RunEvent;
    event(started);
    event(batch(1));
    event(batch(2));
    testing!({ epoch: 1, step: 2, done: 0, total: 1000 });
    testing!({ epoch: 1, step: 2, done: 1000, total: 1000 });
    event({ event: 'evaluation', epoch: 1, step: 2, testLoss: 1.75, testAccuracy: 0.375, evaluated: 1000, nfeForward: 20 });
    event(batch(3));
    event(batch(4));
    testing!({ epoch: 1, step: 4, done: 0, total: 6000 });
    testing!({ epoch: 1, step: 4, done: 500, total: 6000 });
    event(epoch);
    event({ event: 'ended', status: 'completed', epochsCompleted: 1, step: 4, seconds: 31 });

    expect(out.text).toBe(
      'shapes-odenet on shapes (240 train / 6000 test, 10 parameters, backend wasm, data: generated)\n' +
        '  eval at step 2: test loss 1.7500, accuracy 37.50%\n' +
        'epoch 1: loss 1.5000 acc 50.00% | test loss 1.2500 acc 62.50% | NFE fwd 20.0 (max 20) bwd 20.0 | 30.0 s\n' +
        'run completed after 1 epoch(s), 31.0 s\n',
    );
    // The bars' frames, in order (glyphs and ETAs blurred; a slow machine may draw more in between): the epoch's
    // bar is left on screen (\n), a testing bar is cleared (⌫) when its result is printed, and the epoch's bar
    // comes back after an evaluation where it was.
    const frames = bars.text.replace(/[█░]+/g, '▒').replace(/ETA \d+s/g, 'ETA -').split('\r');
    const expected = [
      'epoch 1 ▒ 2/4 | loss 1.8000 | acc 50.00% | NFE 20/20 | ETA -\n',
      '  testing ▒ 0/1000 images | ETA -',
      '  testing ▒ 1000/1000 images | ETA -',
      '⌫',
      'epoch 1 ▒ 2/4 | loss 1.8000 | acc 50.00% | NFE 20/20 | ETA -',
      'epoch 1 ▒ 4/4 | loss 1.6000 | acc 100.00% | NFE 20/20 | ETA -\n',
      '  testing ▒ 0/6000 images | ETA -',
      '  testing ▒ 500/6000 images | ETA -',
      '⌫',
    ];
    let at = 0;
    for (const frame of frames) if (frame === expected[at]) at++;
    expect(expected.slice(at), `frames drawn: ${JSON.stringify(frames)}`).toEqual([]);
    expect(frames.at(-1)).toBe('⌫');
  });

  it("shows a run resumed mid-epoch at its epoch and batch, not as epoch 0", () => {
    const bars = new FakeTty();
    const { event } = progressReporter({ out: new FakeTty(), bars });
    event({ event: 'started', config: tinyConfig(), backend: 'wasm', parameterCount: 10, trainSize: 240, testSize: 70, batchesPerEpoch: 4, startEpoch: 1, startStep: 6, startBatch: 2, datasetSource: 'generated' } as RunEvent);
    event({ ...batch(3), epoch: 2, step: 7 });
    event({ ...batch(4), epoch: 2, step: 8 });
    const frames = bars.text.replace(/[█░]+/g, '▒').replace(/ETA \d+s/g, 'ETA -').split('\r');
    // The bar starts where the epoch stood (2 of 4 batches done); later frames may be throttled away.
    expect(frames.filter((f) => f.startsWith('epoch 2 ▒ 2/4')), JSON.stringify(frames)).not.toEqual([]);
    expect(frames.filter((f) => /^epoch 0/.test(f))).toEqual([]);
  });
});
