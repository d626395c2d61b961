/** Stored checkpoints checked as db check checks them: each run and epoch named with what is wrong. */
import { describe, expect, it } from 'vitest';
import { checkStoredCheckpoints, saveCheckpoint } from '../../src-main/store/checkpoints';
import { checkpointBytes, dbsClosedAfterEachTest, insertRunRow } from './fixtures';

const db = dbsClosedAfterEachTest();

describe('checkStoredCheckpoints', () => {
  it('passes whole checkpoints and names the run and epoch of each damaged, cut short or misfiled one', () => {
    const d = db();
    const [a, b] = [insertRunRow(d), insertRunRow(d)];
    for (const epoch of [1, 2, 3]) saveCheckpoint(d, a, { epoch, step: 10 * epoch, data: checkpointBytes(epoch, 10 * epoch) });
    saveCheckpoint(d, b, { epoch: 1, step: 10, data: checkpointBytes(1, 10) });
    expect(checkStoredCheckpoints(d)).toEqual({ checked: 4, problems: [] });

    const flipped = checkpointBytes(2, 20);
    flipped[flipped.length - 100] ^= 0x10;
    saveCheckpoint(d, a, { epoch: 2, step: 20, data: flipped });
    // Cut short with its byte count stored to match (as saveCheckpoint stores it): only the layout can tell.
    const whole = checkpointBytes(3, 30).length;
    saveCheckpoint(d, a, { epoch: 3, step: 30, data: checkpointBytes(3, 30).subarray(0, whole - 100) });
    saveCheckpoint(d, b, { epoch: 1, step: 10, data: checkpointBytes(4, 40) });
    expect(checkStoredCheckpoints(d)).toEqual({
      checked: 4,
      problems: [
        `checkpoint of run ${a} at epoch 2: the data is not a valid checkpoint: its content does not match its checksum (damaged)`,
        `checkpoint of run ${a} at epoch 3: the data is not a valid checkpoint: expected ${whole} bytes, found ${whole - 100}`,
        `checkpoint of run ${b} at epoch 1: the data is the checkpoint of epoch 4, step 40, where its row says epoch 1, step 10`,
      ],
    });
    // A byte count other than the blob's length (a row written by hand or damaged).
    d.prepare('UPDATE checkpoints SET bytes = bytes + 1 WHERE run_id = ? AND epoch = 1').run(a);
    expect(checkStoredCheckpoints(d).problems[0]).toMatch(new RegExp(`^checkpoint of run ${a} at epoch 1: holds (\\d+) bytes, where its byte count says \\d+ \\(cut short or damaged\\)$`));
    // Bytes an outside edit turned into text (sqlite3's `substr(data, …) || X'…'` gives TEXT): named as such.
    d.prepare('UPDATE checkpoints SET data = CAST(data AS TEXT) WHERE run_id = ? AND epoch = 1').run(a);
    expect(checkStoredCheckpoints(d).problems[0]).toBe(`checkpoint of run ${a} at epoch 1: is stored as text, not bytes (damaged)`);
  });
});
