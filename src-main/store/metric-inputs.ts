/**
 * The per-batch row a run's recorder writes, and the checks of the metric functions' arguments (they arrive from the
 * recorder and from IPC and HTTP payloads): a bad one is INVALID_ARGUMENT naming its field, raised where it enters.
 */
import { LabError } from '../../src-shared/errors';

/** One per-batch row of a run; `step` counts batches over the whole run from 1. `wallSeconds`: training seconds since the run started. */
export interface BatchRow {
  step: number;
  epoch: number;
  batch: number;
  loss: number;
  accuracy: number;
  nfeForward: number;
  nfeBackward: number;
  seconds: number;
  wallSeconds: number;
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is one of `allowed`. */
export function assertOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new LabError('INVALID_ARGUMENT', `${field}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value) ?? String(value)}`, {
      field,
      allowed: [...allowed],
      got: typeof value === 'string' ? value : String(value),
    });
  }
}

/** Throws INVALID_ARGUMENT unless `runIds` is an array of integers. */
export function assertRunIds(runIds: unknown): asserts runIds is number[] {
  if (!Array.isArray(runIds) || !runIds.every((id) => Number.isSafeInteger(id))) {
    throw new LabError('INVALID_ARGUMENT', 'runIds: expected an array of integer run ids', { field: 'runIds' });
  }
}

/** Throws INVALID_ARGUMENT naming `field` unless `step` is an integer ≥ `min`. */
export function assertStep(field: string, step: unknown, min: number): asserts step is number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < min) {
    throw new LabError('INVALID_ARGUMENT', `${field}: expected an integer of at least ${min}, got ${String(step)}`, { field, got: String(step) });
  }
}

const ROW_FIELDS = ['epoch', 'batch', 'loss', 'accuracy', 'nfeForward', 'nfeBackward', 'seconds', 'wallSeconds'] as const;

/** Throws INVALID_ARGUMENT, naming the row and field, at the first row with a bad step or a value that is not a number. */
export function assertRows(rows: readonly BatchRow[]): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    // The field name is built only for the message: a flush checks thousands of rows.
    if (!Number.isSafeInteger(r.step) || r.step < 1) assertStep(`rows[${i}].step`, r.step, 1);
    for (const f of ROW_FIELDS) {
      const v = r[f];
      // SQLite stores NaN as NULL, which batch_metrics refuses (NOT NULL): say which value it was instead.
      if (typeof v !== 'number' || Number.isNaN(v)) {
        throw new LabError('INVALID_ARGUMENT', `rows[${i}].${f}: expected a number (not NaN), got ${String(v)} (step ${r.step})`, {
          field: `rows[${i}].${f}`,
          step: r.step,
        });
      }
    }
  }
}
