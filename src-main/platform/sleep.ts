/**
 * Blocks this thread for `ms` milliseconds. For the few synchronous waits the lab makes (a run folder's lock held by
 * another process for its milliseconds, SQLite's WAL switch refused while another opener holds a lock): the code
 * around them is synchronous (better-sqlite3, a claim made inside a transaction), so a timer cannot be awaited.
 */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
