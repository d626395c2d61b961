/**
 * Several processes on one run store. A transaction that reads, then writes, must begin IMMEDIATE: begun deferred,
 * its upgrade to a write lock fails at once (SQLITE_BUSY, "database is locked") whenever another process holds
 * the write lock, busy timeout or not. And processes opening a new store at the same moment must migrate it
 * once between them (each migration under BEGIN IMMEDIATE, re-reading user_version inside). Real processes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src-main/store/database';
import { exportRuns } from '../../src-main/store/export';
import type { ExportDocument } from '../../src-main/store/export-format';
import { importExportDocument } from '../../src-main/store/import';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src-main/store/migrations';
import { addRunsToStudy, addToStudy, deleteStudy, getStudy, removeRunsFromStudy } from '../../src-main/store/studies';
import { insertRunRow, tempDbPath } from './fixtures';

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => children.splice(0).forEach((c) => c.kill()));

/** The first line `child` prints (rejects if it exits first). */
function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.on('close', (code) => reject(new Error(`exited (${code}) before a line: ${out}${err}`)));
  });
}

/**
 * Another process takes the store's write lock (BEGIN IMMEDIATE) and holds it `ms`, then commits; resolves once
 * the lock is held.
 */
async function holdWriteLock(path: string, ms: number): Promise<void> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script, path], { cwd: process.cwd() });
  children.push(child);
  expect(await firstLine(child)).toBe('locked');
}

describe('read-then-write transactions wait for another process’s write lock instead of failing (SQLITE_BUSY)', () => {
  let db: Db | undefined;
  afterEach(() => db?.close());

  /** A store with two runs (ids 1, 2) and the study 'grid' holding run 1. */
  function store(): { path: string; db: Db } {
    const path = tempDbPath();
    db = openDatabase(path);
    insertRunRow(db, { status: 'completed' });
    insertRunRow(db, { status: 'completed' });
    addToStudy(db, 'grid', [1]);
    return { path, db };
  }

  /** An export of one run from another store. */
  let doc: ExportDocument;
  beforeAll(() => {
    const other = openDatabase(tempDbPath());
    try {
      doc = exportRuns(other, [insertRunRow(other, { name: 'imported', status: 'completed' })]);
    } finally {
      other.close();
    }
  });

  const cases: [string, (db: Db) => unknown, (db: Db) => void][] = [
    ['importExportDocument (runs import)', (d) => importExportDocument(d, doc), (d) => expect(d.prepare("SELECT count(*) FROM runs WHERE name = 'imported'").pluck().get()).toBe(1)],
    ['addToStudy', (d) => addToStudy(d, 'grid', [2]), (d) => expect(getStudy(d, 'grid').runIds).toEqual([1, 2])],
    ['addRunsToStudy', (d) => addRunsToStudy(d, getStudy(d, 'grid').id, [2]), (d) => expect(getStudy(d, 'grid').runIds).toEqual([1, 2])],
    ['removeRunsFromStudy', (d) => removeRunsFromStudy(d, 'grid', [1]), (d) => expect(getStudy(d, 'grid').runIds).toEqual([])],
    ['deleteStudy', (d) => deleteStudy(d, 'grid'), (d) => expect(d.prepare('SELECT count(*) FROM studies').pluck().get()).toBe(0)],
  ];

  it.each(cases)('%s', async (_name, work, check) => {
    const { path, db } = store();
    await holdWriteLock(path, 700);
    const started = performance.now();
    work(db); // deferred, this threw "database is locked" at once
    expect(performance.now() - started).toBeGreaterThan(300); // it waited for the other process's commit
    check(db);
  });
});

describe('processes opening a new store at the same moment', () => {
  /** `count` processes opening `path` together: each prints ready, then all are told to go at once. */
  async function openTogether(path: string, count: number): Promise<{ ok: boolean; version?: number; error?: string }[]> {
    const procs = Array.from({ length: count }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'open-store-child.ts'), path], { cwd: process.cwd() });
      children.push(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        const poll = () => (out.includes('ready\n') ? resolve() : setTimeout(poll, 5));
        poll();
        child.on('close', (code) => reject(new Error(`exited (${code}) before ready: ${out}${err}`)));
      });
      const done = new Promise<string>((resolve) => child.on('close', () => resolve(out + err)));
      return { child, ready, done };
    });
    await Promise.all(procs.map((p) => p.ready));
    for (const p of procs) p.child.stdin.write('go\n');
    const outputs = await Promise.all(procs.map((p) => p.done));
    return outputs.map((o) => {
      const line = o.split('\n').find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as { ok: boolean; version?: number; error?: string }) : { ok: false, error: o };
    });
  }

  it('all succeed, and the store has every migration once (4 processes, 8 rounds)', async () => {
    for (let round = 0; round < 8; round++) {
      const path = tempDbPath();
      const results = await openTogether(path, 4);
      expect(results).toEqual(Array(4).fill({ ok: true, version: SCHEMA_VERSION }));
      const db = openDatabase(path);
      try {
        expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const columns = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('runs') as string[]).sort();
        expect(columns).toContain('cancel_requested');
        expect(new Set(columns).size).toBe(columns.length);
      } finally {
        db.close();
      }
    }
    expect(MIGRATIONS.at(-1)!.version).toBe(SCHEMA_VERSION);
  }, 120_000);
});
