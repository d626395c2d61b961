/** What a cancelled run says on a terminal: where its work was saved, and the command that continues it. */
import { describe, expect, it } from 'vitest';
import { cancelNote } from '../../src-main/cli/cancel-note';
import { defaultDbPath } from '../../src-main/cli/paths';
import type { RunEvent, StartedEvent } from '../../src-shared/run-events';

const started = (at: Partial<StartedEvent> = {}) => ({ event: 'started', batchesPerEpoch: 45, startEpoch: 0, startStep: 0, ...at }) as StartedEvent;

function noteAfter(events: RunEvent[], dbPath = '/data/other.db', startAt?: { epoch: number; step: number }): string {
  const { event, note } = cancelNote(7, dbPath, startAt);
  events.forEach(event);
  return note();
}

describe('cancelNote', () => {
  it('names the resume point saved last, or the last epoch checkpoint, or what the run stood on', () => {
    const point = { event: 'checkpoint', epoch: 3, batch: 17, step: 107, bytes: 1 } as const;
    expect(noteAfter([started(), { event: 'checkpoint', epoch: 2, step: 90, bytes: 1 }, point])).toBe(
      'run 7: saved a resume point at epoch 3, batch 17 of 45 (step 107). To continue it: odelab runs resume 7 --db "/data/other.db"',
    );
    expect(noteAfter([started(), { event: 'checkpoint', epoch: 2, step: 90, bytes: 1 }, { event: 'batch', step: 91 } as RunEvent])).toMatch(
      /^run 7: its last checkpoint is epoch 2's \(step 90\); the batches after it are lost\. /,
    );
    expect(noteAfter([started({ startEpoch: 2, startStep: 107, startBatch: 17 })])).toMatch(/it stands where this session started \(epoch 3, batch 17, step 107\)/);
    expect(noteAfter([started()])).toMatch(/nothing was saved yet; it would start again from the beginning/);
    // A checkpoint and no batch since: nothing is lost.
    expect(noteAfter([started(), { event: 'checkpoint', epoch: 2, step: 90, bytes: 1 }, { event: 'epoch' } as RunEvent, { event: 'checkpoint', epoch: 3, step: 135, bytes: 1 }])).toMatch(
      /^run 7: its last checkpoint is epoch 3's \(step 135\)\. To continue/,
    );
    // A resumed run stopped before its process said 'started' (Ctrl-C while the engine loads) stands where it stood.
    expect(noteAfter([], '/data/other.db', { epoch: 12, step: 540 })).toMatch(/nothing new was saved; it stands where this session started \(end of epoch 12, step 540\)/);
    expect(noteAfter([], '/data/other.db', { epoch: 0, step: 5 })).toMatch(/it stands where this session started \(step 5\)/);
  });

  it('leaves out --db for the store odelab opens by itself', () => {
    const env = process.env.ODELAB_DB;
    delete process.env.ODELAB_DB;
    try {
      expect(noteAfter([started()], defaultDbPath())).toMatch(/To continue it: odelab runs resume 7$/);
    } finally {
      if (env !== undefined) process.env.ODELAB_DB = env;
    }
  });
});
