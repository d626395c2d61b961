/**
 * stdout's reader went away (`odelab models | head -1`, or the terminal was closed): what it wanted is printed, so
 * stop quietly, not with an EPIPE or EIO stack trace. A command with something to wind up (a training run to cancel and record) registers a handler
 * instead of the plain exit.
 */
const handlers = new Set<() => void>();

/** Runs `handler` instead of exiting if stdout's pipe breaks; returns the unregister function. */
export function onBrokenPipe(handler: () => void): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

/** What a write gets when nobody reads any more: a closed pipe, or a closed terminal (its pty gone). */
const READER_GONE = new Set(['EPIPE', 'EIO']);

export function handleBrokenPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (!READER_GONE.has(e.code ?? '')) throw e;
    if (handlers.size === 0) process.exit(process.exitCode ?? 0);
    for (const handler of handlers) handler();
  });
  // Messages for a reader who is gone: nothing to do but not crash on them.
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (!READER_GONE.has(e.code ?? '')) throw e;
  });
}
