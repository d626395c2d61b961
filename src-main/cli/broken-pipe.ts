/**
 * stdout's reader went away (`odelab models | head -1`): what it wanted is printed, so stop quietly, not with an
 * EPIPE stack trace. A command with something to wind up (a training run to cancel and record) registers a handler
 * instead of the plain exit.
 */
const handlers = new Set<() => void>();

/** Runs `handler` instead of exiting if stdout's pipe breaks; returns the unregister function. */
export function onBrokenPipe(handler: () => void): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

export function handleBrokenPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (handlers.size === 0) process.exit(process.exitCode ?? 0);
    for (const handler of handlers) handler();
  });
}
