/**
 * Renames that ride out Windows' passing refusals (a file antivirus or the indexer has open). The refusals are
 * played by a rename that fails its first attempts with the codes Windows gives; the real rename is used for the rest.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renameRetrying, renameSyncRetrying, type RetryPolicy } from '../../src-main/platform/rename';

const windows: RetryPolicy = { platform: 'win32', giveUpAfterMs: 2000 };
const linux: RetryPolicy = { platform: 'linux', giveUpAfterMs: 2000 };

const refusal = (code: string) => Object.assign(new Error(`${code}: operation not permitted, rename`), { code });

/** A rename refused `times` times with `code`, then done; counts its attempts. */
function refusedRename(times: number, code: string) {
  const calls = { n: 0 };
  const attempt = () => {
    calls.n++;
    if (calls.n <= times) throw refusal(code);
  };
  return { calls, sync: attempt, async: async () => attempt() };
}

describe('renameRetrying', () => {
  it('on Windows, tries again after EPERM, EACCES and EBUSY until the rename goes through', async () => {
    for (const code of ['EPERM', 'EACCES', 'EBUSY']) {
      const r = refusedRename(3, code);
      await renameRetrying('a', 'b', windows, r.async);
      expect(r.calls.n, code).toBe(4);
      const s = refusedRename(3, code);
      renameSyncRetrying('a', 'b', windows, s.sync);
      expect(s.calls.n, code).toBe(4);
    }
  });

  it('gives up with the last refusal once the time is up', async () => {
    const r = refusedRename(Infinity, 'EBUSY');
    const start = Date.now();
    await expect(renameRetrying('a', 'b', { platform: 'win32', giveUpAfterMs: 100 }, r.async)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect(r.calls.n).toBeGreaterThan(2);
    const s = refusedRename(Infinity, 'EPERM');
    expect(() => renameSyncRetrying('a', 'b', { platform: 'win32', giveUpAfterMs: 100 }, s.sync)).toThrow(/EPERM/);
    expect(s.calls.n).toBeGreaterThan(2);
  });

  it('fails at once where the code means a real problem: any code off Windows, another code on it', async () => {
    for (const [policy, code] of [
      [linux, 'EPERM'],
      [linux, 'EBUSY'],
      [windows, 'ENOENT'],
      [windows, 'EXDEV'],
    ] as const) {
      const r = refusedRename(1, code);
      await expect(renameRetrying('a', 'b', policy, r.async)).rejects.toMatchObject({ code });
      expect(r.calls.n).toBe(1);
      const s = refusedRename(1, code);
      expect(() => renameSyncRetrying('a', 'b', policy, s.sync)).toThrow(code);
      expect(s.calls.n).toBe(1);
    }
  });

  it('renames real files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'odelab-rename-'));
    try {
      writeFileSync(join(dir, 'a'), 'one');
      await renameRetrying(join(dir, 'a'), join(dir, 'b'));
      renameSyncRetrying(join(dir, 'b'), join(dir, 'c'));
      expect(readFileSync(join(dir, 'c'), 'utf8')).toBe('one');
      await expect(renameRetrying(join(dir, 'a'), join(dir, 'd'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
