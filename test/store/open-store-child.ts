/**
 * A process that opens the run store at argv[2] (openStore, read-write) when told to: it prints `ready`, waits for
 * a line on stdin, opens, and prints one JSON line ({ ok, version } or { ok: false, error }). Started in parallel by
 * test/store/concurrency.test.ts, so that several processes open one new store at the same moment.
 */
import { openStore } from '../../src-main/store';

const path = process.argv[2];
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  try {
    const store = openStore(path);
    const version = store.db.pragma('user_version', { simple: true }) as number;
    store.close();
    process.stdout.write(`${JSON.stringify({ ok: true, version })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) })}\n`);
    process.exitCode = 1;
  }
  process.stdin.destroy();
});
