/** makeDirectory: mkdir -p with Node's errors, and an error (not a hang) where Node's recursive mkdir loops. */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectory } from '../../src-main/platform/make-directory';

const codeOf = (f: () => void): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  return undefined;
};

describe('makeDirectory', () => {
  it('creates missing parents, and accepts a directory that exists', () => {
    const root = mkdtempSync(join(tmpdir(), 'odelab-mkdir-'));
    const deep = join(root, 'a', 'b', 'c');
    makeDirectory(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(() => makeDirectory(deep)).not.toThrow();
    expect(() => makeDirectory(root)).not.toThrow();
  });

  it("fails with Node's error for a path that is a file, or lies under one", () => {
    const root = mkdtempSync(join(tmpdir(), 'odelab-mkdir-'));
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect(codeOf(() => makeDirectory(file))).toBe('EEXIST');
    expect(codeOf(() => makeDirectory(join(file, 'sub', 'dir')))).toBe('ENOTDIR');
  });

  it.runIf(process.platform === 'linux')('fails under /proc, where mkdirSync(…, { recursive: true }) never returns', () => {
    expect(codeOf(() => makeDirectory('/proc/odelab-no-such/run'))).toBe('ENOENT');
    expect(codeOf(() => makeDirectory('/proc/self/odelab-no-such'))).toBe('ENOENT');
  });
});
