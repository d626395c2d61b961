/**
 * A run's outcome as the run lists show it: its final epoch and its best figures (highest test accuracy and lowest
 * test loss, the earliest epoch on ties; NULL — non-finite — losses never count as best). Triggers on
 * epoch_metrics keep them in runs.final_json / best_json (migration 2), so listing 10 000 runs reads two short
 * JSON texts per run instead of searching each run's epochs.
 */
import type { BestMetrics, FinalMetrics } from '../../src-shared/run-record';
import type { Db } from './database';
import { assertRunIds } from './metric-inputs';

export interface RunOutcome {
  final: FinalMetrics | null;
  best: BestMetrics | null;
}

/** Final and best metrics of each run asked for (nulls for runs without epochs). */
export function finalAndBest(db: Db, runIds: readonly number[]): Map<number, RunOutcome> {
  assertRunIds(runIds);
  const out = new Map<number, RunOutcome>(runIds.map((id) => [id, { final: null, best: null }]));
  if (runIds.length === 0) return out;
  const rows = db
    .prepare(`SELECT json_object('id', id, 'final', json(final_json), 'best', json(best_json)) FROM runs WHERE id IN (SELECT value FROM json_each(?))`)
    .pluck()
    .all(JSON.stringify(runIds)) as string[];
  for (const { id, final, best } of JSON.parse(`[${rows.join(',')}]`) as ({ id: number } & RunOutcome)[]) {
    out.set(id, { final, best });
  }
  return out;
}
