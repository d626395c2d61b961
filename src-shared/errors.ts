/**
 * Errors are values with a code and a message a user can act on. They cross process and IPC boundaries
 * as plain objects ({ code, message, details }), so keep `details` JSON-serialisable.
 */

export type LabErrorCode =
  | 'INVALID_ARGUMENT'
  | 'BACKEND_UNAVAILABLE'
  | 'STEP_UNDERFLOW'
  | 'MAX_STEPS'
  | 'NONLINEAR_SOLVE_FAILED'
  | 'NON_FINITE'
  | 'DATASET_CORRUPT'
  | 'DATASET_NOT_FOUND'
  | 'DOWNLOAD_FAILED'
  | 'CHECKSUM_MISMATCH'
  /** A run continued (runs resume) on a copy of its dataset with other content than the one it trained on. */
  | 'DATASET_CHANGED'
  /** A gradient worker thread exited or crashed; its pending work is lost. */
  | 'WORKER_FAILED'
  | 'CANCELLED'
  /** The backend could not allocate what a computation needs (the wasm heap's 4 GiB). */
  | 'OUT_OF_MEMORY'
  /** The run store's file is not an SQLite database, is damaged, or was written by a newer Neural ODE Lab. */
  | 'STORE_UNREADABLE'
  | 'STORE_NEWER_SCHEMA'
  /** A run, checkpoint or study asked of the store does not exist. */
  | 'NOT_FOUND'
  /** A file could not be read or written for a reason that is not the user's input (disk full, I/O error). */
  | 'IO_ERROR';

export class LabError extends Error {
  override readonly name = 'LabError';
  /** The message without its code: what structured errors (a run's `error`, worker messages) carry beside `code`. */
  readonly reason: string;
  constructor(
    readonly code: LabErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${message}`);
    this.reason = message;
  }

  /** As errors cross processes: the code beside the bare reason, as a run's `error` has them. */
  toJSON(): { code: LabErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.reason, details: this.details };
  }
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is an integer ≥ 1. */
export function requirePositiveInteger(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new LabError('INVALID_ARGUMENT', `${field} must be a positive integer, found ${value}`, { field, [field]: value });
  }
}

/**
 * `CODE: reason` for a structured error (a run's). Runs stored before errors carried the bare reason have the code
 * in their message already: it is not repeated.
 */
export function describeError(error: { code: string; message: string }): string {
  const prefix = `${error.code}: `;
  return error.message.startsWith(prefix) ? error.message : prefix + error.message;
}

export function isLabError(e: unknown, code?: LabErrorCode): e is LabError {
  return e instanceof LabError && (code === undefined || e.code === code);
}
