/**
 * A run store that is damaged, empty, or written by several `odelab` processes at once, from the command line:
 * `db check` lists the damage it finds (exit 1), every other command says STORE_UNREADABLE naming the file and what
 * to do, never a stack trace; concurrent imports into one store all succeed. Real processes on stores made with
 * the store API (no training here).
 */
import { closeSync, copyFileSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src-main/store/checkpoints';
import { openDatabase } from '../../src-main/store/database';
import { exportRuns } from '../../src-main/store/export';
import { checkpointBytes, insertRunRow } from '../store/fixtures';
import { tempDir } from '../train/fixtures';
import { runOdelab, startOdelab, type CliResult } from './odelab-process';

const folder = tempDir();
const env = { ...process.env, ODELAB_DATA_DIR: join(folder, 'data'), ODELAB_DB: join(folder, 'default.db') };
const healthy = join(folder, 'lab.db');
/** `healthy` with 300 bytes of page 3 (the runs_by_status index) overwritten, as a reviewer did. */
const corrupt = join(folder, 'corrupt3.db');
/** `healthy` with its page 1 (the schema) overwritten after the 100-byte header. */
const schemaGone = join(folder, 'schema-gone.db');

function overwrite(path: string, offset: number, length: number): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xff), 0, length, offset);
  closeSync(fd);
}

/** A failure as main.ts prints it: one `CODE: message`, no stack trace, exit 1. */
function expectFailure(r: CliResult, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/SqliteError/);
  expect(r.code).toBe(1);
}

beforeAll(() => {
  const db = openDatabase(healthy);
  for (let i = 0; i < 3; i++) insertRunRow(db, { status: 'completed' });
  saveCheckpoint(db, 1, { epoch: 1, step: 10, data: checkpointBytes(1, 10) });
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  copyFileSync(healthy, corrupt);
  overwrite(corrupt, 8192, 300);
  copyFileSync(healthy, schemaGone);
  overwrite(schemaGone, 100, 3996);
});

describe('a damaged run store', () => {
  it('db check --json lists what SQLite finds (ok: false, its problems), exit 1, no stack trace', () => {
    const r = runOdelab(env, ['db', 'check', '--db', corrupt, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; path: string; problems: string[] };
    expect(report).toMatchObject({ ok: false, path: corrupt, checkpoints: 1 });
    expect(report.problems).toEqual(['Tree 3 page 3: btreeInitPage() returns error code 11', 'wrong # of entries in index runs_by_status']);
  });

  it('db check lists the problems as text too', () => {
    const r = runOdelab(env, ['db', 'check', '--db', corrupt]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/corrupt3\.db: schema \d+, 3 run\(s\), 1 checkpoint\(s\), 0 resume point\(s\), 2 problem\(s\):\n {2}Tree 3 page 3: btreeInitPage\(\) returns error code 11\n {2}wrong # of entries in index runs_by_status\n$/);
    expect(r.stderr).toBe('');
  });

  it('db check of a store whose schema page is gone: still a report, every check that failed a problem', () => {
    const r = runOdelab(env, ['db', 'check', '--db', schemaGone, '--json']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: string[] };
    expect(report).toMatchObject({ ok: false, runs: null, checkpoints: null });
    expect(report.problems[0]).toMatch(/database disk image is malformed/);
  });

  it.each([
    ['runs list (read-write: it marks interrupted runs on opening)', ['runs', 'list'], corrupt],
    ['studies list', ['studies', 'list'], corrupt],
    ['runs export (read-only)', ['runs', 'export', '1', '--out', join(folder, 'out.json')], schemaGone],
  ])('%s: STORE_UNREADABLE naming the file, what happened and what to do', (_name, args, path) => {
    const name = path === corrupt ? 'corrupt3\\.db' : 'schema-gone\\.db';
    expectFailure(
      runOdelab(env, [...args, '--db', path]),
      new RegExp(
        `^STORE_UNREADABLE: the run store .*${name} is damaged \\(SQLite: database disk image is malformed\\); ` +
          `\`odelab db check --db .*${name}\` lists what is damaged; restore the file from a backup`,
      ),
    );
  });
});

it('db check on an existing empty (0-byte) file says so, not that there is no file', () => {
  const empty = join(folder, 'empty.db');
  writeFileSync(empty, '');
  expectFailure(runOdelab(env, ['db', 'check', '--db', empty]), /^NOT_FOUND: .*empty\.db is an empty file \(0 bytes\), not a run store yet/);
});

it('four `runs import` into one store at once all succeed, each run imported once', async () => {
  const target = join(folder, 'shared.db');
  openDatabase(target).close(); // an existing store: the imports race for its write lock, not to create it
  const files = [0, 1, 2, 3].map((i) => {
    const db = openDatabase(join(folder, `source-${i}.db`));
    const id = insertRunRow(db, { name: `run ${i}`, status: 'completed' });
    const file = join(folder, `export-${i}.json`);
    writeFileSync(file, JSON.stringify(exportRuns(db, [id])));
    db.close();
    return file;
  });
  const results = await Promise.all(files.map((f) => startOdelab(env, ['runs', 'import', f, '--db', target])));
  for (const r of results) {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }
  const db = openDatabase(target);
  try {
    expect((db.prepare('SELECT name FROM runs ORDER BY name').pluck().all() as string[])).toEqual(['run 0', 'run 1', 'run 2', 'run 3']);
  } finally {
    db.close();
  }
});
