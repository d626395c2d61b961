/**
 * A run's outcome as the run lists show it: its final epoch and its best figures (highest test accuracy and lowest
 * test loss, the earliest epoch on ties; NULL — non-finite — losses never count as best). Computed in SQL as one
 * JSON value per run, so listing 10 000 runs costs one parse instead of 10 000 row objects.
 */
import type { BestMetrics, FinalMetrics } from '../../src-shared/run-record';
import type { Db } from './database';
import { assertRunIds } from './metrics';

export interface RunOutcome {
  final: FinalMetrics | null;
  best: BestMetrics | null;
}

/** SQL for a run's final epoch as a JSON object (NULL without epochs); `r.id` is the run. */
export const FINAL_JSON_SQL = `(SELECT json_object('epoch', e.epoch, 'loss', e.loss, 'accuracy', e.accuracy,
    'testLoss', e.test_loss, 'testAccuracy', e.test_accuracy)
  FROM epoch_metrics e WHERE e.run_id = r.id ORDER BY e.epoch DESC LIMIT 1)`;

/** SQL for a run's best figures as a JSON object (NULL without epochs); `r.id` is the run. */
export const BEST_JSON_SQL = `(SELECT json_object('testAccuracy', a.test_accuracy, 'epoch', a.epoch,
    'testLoss', l.test_loss, 'testLossEpoch', l.epoch)
  FROM (SELECT test_accuracy, epoch FROM epoch_metrics WHERE run_id = r.id ORDER BY test_accuracy DESC, epoch LIMIT 1) a
  LEFT JOIN (SELECT test_loss, epoch FROM epoch_metrics WHERE run_id = r.id AND test_loss IS NOT NULL
             ORDER BY test_loss, epoch LIMIT 1) l)`;

/** Final and best metrics of each run asked for (nulls for runs without epochs). */
export function finalAndBest(db: Db, runIds: readonly number[]): Map<number, RunOutcome> {
  assertRunIds(runIds);
  const out = new Map<number, RunOutcome>(runIds.map((id) => [id, { final: null, best: null }]));
  if (runIds.length === 0) return out;
  const rows = db
    .prepare(
      `SELECT json_object('id', r.id, 'final', json(${FINAL_JSON_SQL}), 'best', json(${BEST_JSON_SQL}))
       FROM runs r WHERE r.id IN (SELECT value FROM json_each(?))`,
    )
    .pluck()
    .all(JSON.stringify(runIds)) as string[];
  for (const { id, final, best } of JSON.parse(`[${rows.join(',')}]`) as ({ id: number } & RunOutcome)[]) {
    out.set(id, { final, best });
  }
  return out;
}
