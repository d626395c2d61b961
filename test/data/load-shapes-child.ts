/**
 * Loads a tiny shapes dataset with the data directory argv[2] (loadDataset, which caches it there) and prints one
 * JSON line: { ok: true } or { ok: false, error: { name, code, message } }. test/data/import.test.ts runs it as an
 * unprivileged user when the tests run as root, whom file permissions do not stop.
 */
import { loadDataset } from '../../src-main/data/index';
import { isLabError } from '../../src-shared/errors';

const dataDir = process.argv[2];
try {
  await loadDataset({ kind: 'shapes', trainCount: 20, testCount: 10 }, { dataDir });
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (e) {
  const error = isLabError(e) ? { name: 'LabError', code: e.code, message: e.message } : { name: String((e as Error)?.name), message: String((e as Error)?.message ?? e) };
  process.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
}
