/**
 * What a cancelled run on a terminal says last: where its work was saved (its resume point, or its last epoch's
 * checkpoint) and the command that continues it, so Ctrl-C is never a guess about what was lost.
 */
import { resolve } from 'node:path';
import type { CheckpointEvent, RunEvent } from '../../src-shared/run-events';
import { defaultDbPath } from './paths';

/**
 * Follows a run's events and, once it has ended cancelled, says where it can be continued from. `startAt`: where a
 * resumed run stands before its process says so (a Ctrl-C while the engine loads comes before 'started').
 */
export function cancelNote(
  runId: number,
  dbPath: string,
  startAt?: { epoch: number; step: number },
): { event: (e: RunEvent) => void; note: () => string } {
  let perEpoch: number | undefined;
  let start = { epoch: startAt?.epoch ?? 0, step: startAt?.step ?? 0, batch: undefined as number | undefined };
  let saved: CheckpointEvent | undefined;
  /** Batches trained since the checkpoint saved last: none, and nothing after it is lost. */
  let trainedSince = 0;
  const event = (e: RunEvent) => {
    if (e.event === 'started') {
      perEpoch = e.batchesPerEpoch;
      start = { epoch: e.startEpoch, step: e.startStep, batch: e.startBatch };
    }
    if (e.event === 'batch') trainedSince++;
    if (e.event === 'checkpoint') {
      saved = e;
      trainedSince = 0;
    }
  };
  const note = () => {
    // Only a store other than the one odelab opens by itself needs naming.
    const usual = resolve(process.env.ODELAB_DB || defaultDbPath());
    const command = `odelab runs resume ${runId}${resolve(dbPath) === usual ? '' : ` --db ${JSON.stringify(dbPath)}`}`;
    return `run ${runId}: ${whereSaved()}. To continue it: ${command}`;
  };
  /** What the run's work stands on now: the last thing saved this session, else where the session began. */
  function whereSaved(): string {
    if (saved?.batch !== undefined) {
      return `saved a resume point at epoch ${saved.epoch}, batch ${saved.batch}${perEpoch ? ` of ${perEpoch}` : ''} (step ${saved.step})`;
    }
    if (saved) return `its last checkpoint is epoch ${saved.epoch}'s (step ${saved.step})${trainedSince > 0 ? '; the batches after it are lost' : ''}`;
    if (start.step === 0) return 'nothing was saved yet; it would start again from the beginning';
    let place = '';
    if (start.batch !== undefined) place = `epoch ${start.epoch + 1}, batch ${start.batch}, `;
    else if (start.epoch > 0 || !startAt) place = `end of epoch ${start.epoch}, `;
    return `nothing new was saved; it stands where this session started (${place}step ${start.step})`;
  }
  return { event, note };
}
