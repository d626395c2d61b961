/** Cancellation at the dataset edge: every abort surfaces as one typed error, whatever raised it. */
import { LabError, isLabError } from '../../src-shared/errors';

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LabError('CANCELLED', `${what} was cancelled`);
}

/** fetch and stream APIs reject with DOMException/AbortError; map those (and only those) to CANCELLED. */
export function asCancelled(e: unknown, signal: AbortSignal | undefined, what: string): LabError | undefined {
  if (isLabError(e, 'CANCELLED')) return e;
  if (signal?.aborted || (e instanceof Error && e.name === 'AbortError')) {
    return new LabError('CANCELLED', `${what} was cancelled`);
  }
  return undefined;
}

/** Yields to the event loop so cancellation and progress get a chance during CPU-bound work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
