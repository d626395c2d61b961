/** Writing a new file whole or not at all, never over an existing one: on file systems with hard links, and without. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeNewFileAtomic } from '../../src-main/data/fsAtomic';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'odelab-atomic-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A link that fails as a drive without hard links makes it fail (FAT on Windows: EISDIR; a share: EACCES). */
const noLinks = (code: string) => async () => {
  throw Object.assign(new Error(`${code}: link`), { code });
};

describe('writeNewFileAtomic', () => {
  it('writes a new file and leaves no temporary file', async () => {
    await writeNewFileAtomic(join(dir, 'out.json'), '{"a":1}');
    expect(readFileSync(join(dir, 'out.json'), 'utf8')).toBe('{"a":1}');
    expect(readdirSync(dir)).toEqual(['out.json']);
  });

  it('refuses an existing file (EEXIST) and leaves it as it was', async () => {
    writeFileSync(join(dir, 'out.json'), 'mine');
    await expect(writeNewFileAtomic(join(dir, 'out.json'), 'theirs')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(join(dir, 'out.json'), 'utf8')).toBe('mine');
    expect(readdirSync(dir)).toEqual(['out.json']);
  });

  it('copies where the file system refuses hard links, whatever code it refuses them with', async () => {
    for (const code of ['EPERM', 'EISDIR', 'EACCES', 'ENOTSUP']) {
      const target = join(dir, `${code}.json`);
      await writeNewFileAtomic(target, code, noLinks(code));
      expect(readFileSync(target, 'utf8')).toBe(code);
    }
    expect(readdirSync(dir).sort()).toEqual(['EACCES.json', 'EISDIR.json', 'ENOTSUP.json', 'EPERM.json']);
  });

  it('still never overwrites there: the copy is exclusive', async () => {
    writeFileSync(join(dir, 'out.json'), 'mine');
    await expect(writeNewFileAtomic(join(dir, 'out.json'), 'theirs', noLinks('EISDIR'))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(join(dir, 'out.json'), 'utf8')).toBe('mine');
    expect(readdirSync(dir)).toEqual(['out.json']);
  });
});
