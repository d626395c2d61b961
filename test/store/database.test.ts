/**
 * Opening the run store: migrations from an empty file and from each earlier version keep the data; files we
 * must not touch (not SQLite, a newer schema) are refused with a clear error and left byte-for-byte unchanged.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { integrityCheck, openDatabase } from '../../src-main/store/database';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src-main/store/migrations';
import { createRun, getRun, openStore } from '../../src-main/store';
import { checkpointBytes, expectLabError, insertRunRow, sampleConfig, tempDbPath } from './fixtures';
import { saveCheckpoint } from '../../src-main/store/checkpoints';

const fingerprint = (path: string) => ({
  sha: createHash('sha256').update(readFileSync(path)).digest('hex'),
  mtime: statSync(path).mtimeMs,
  size: statSync(path).size,
});

const tables = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[]).sort();

describe('run store database', () => {
  it('creates every table from an empty file, in WAL mode, at the latest schema version', () => {
    const path = tempDbPath();
    writeFileSync(path, ''); // an empty file is a new database, not a corrupt one
    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['runs', 'batch_metrics', 'epoch_metrics', 'evaluations', 'checkpoints', 'datasets',
        'confusion_matrices', 'step_sizes', 'studies', 'study_runs', 'metric_buckets']),
    );
    expect(integrityCheck(db)).toEqual({ ok: true, problems: [] });
    db.close();
  });

  it.each(MIGRATIONS.slice(0, -1).map((m) => m.version))('migrates a version-%i database with data to the latest, keeping it', (version) => {
    const path = tempDbPath();
    const old = openDatabase(path, { targetVersion: version });
    expect(old.pragma('user_version', { simple: true })).toBe(version);
    const runId = insertRunRow(old, { name: 'from an older lab' });
    old.prepare(`INSERT INTO checkpoints (run_id, epoch, step, bytes, created_at, data) VALUES (?, 1, 10, 3, 'then', ?)`).run(runId, Buffer.from([1, 2, 3]));
    old.close();

    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT name, dataset_id FROM runs WHERE id = ?').get(runId)).toEqual({ name: 'from an older lab', dataset_id: null });
    expect([...(db.prepare('SELECT data FROM checkpoints').pluck().get() as Buffer)]).toEqual([1, 2, 3]);
    expect(integrityCheck(db).ok).toBe(true);
    db.close();
  });

  it('gives every run a UUID: backfilled for the runs of a version-3 store, set for new runs, unique', () => {
    const path = tempDbPath();
    const old = openDatabase(path, { targetVersion: 3 });
    const oldRuns = [insertRunRow(old), insertRunRow(old), insertRunRow(old)];
    old.close();

    const db = openDatabase(path);
    const uidOf = (id: number) => db.prepare('SELECT uid FROM runs WHERE id = ?').pluck().get(id) as string;
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const created = createRun(db, { config: sampleConfig() });
    const insertedWithout = insertRunRow(db); // a row written without a uid gets one too
    const uids = [...oldRuns, created, insertedWithout].map(uidOf);
    for (const uid of uids) expect(uid).toMatch(v4);
    expect(new Set(uids).size).toBe(uids.length);
    expect(getRun(db, created).uid).toBe(uidOf(created));
    expect(() => db.prepare('UPDATE runs SET uid = ? WHERE id = ?').run(uids[0], created)).toThrow(/UNIQUE constraint failed: runs\.uid/);
    db.close();
  });

  it('refuses a database written by a newer schema, without modifying it', () => {
    const path = tempDbPath();
    const future = new Database(path);
    future.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY, from_the_future TEXT)');
    future.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    const before = fingerprint(path);
    expect(() => openDatabase(path)).toThrow(new RegExp(`STORE_NEWER_SCHEMA: .*newer Neural ODE Lab \\(schema version ${SCHEMA_VERSION + 1}; this version understands up to ${SCHEMA_VERSION}\\)`));
    expect(() => openStore(path, { readonly: true })).toThrow(/STORE_NEWER_SCHEMA/);
    expect(fingerprint(path)).toEqual(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('refuses a file that is not SQLite, and a damaged one, without modifying them', () => {
    const text = tempDbPath('notes.txt');
    writeFileSync(text, 'these are my notes, not a database\n'.repeat(100));
    const before = fingerprint(text);
    expect(() => openDatabase(text)).toThrow(/STORE_UNREADABLE: .*notes\.txt is not a Neural ODE Lab database \(not an SQLite file\)/);
    expect(fingerprint(text)).toEqual(before);

    // A real database whose pages after the header were overwritten.
    const damaged = tempDbPath();
    const db = openDatabase(damaged);
    insertRunRow(db);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0x5a, 100);
    writeFileSync(damaged, bytes);
    const damagedBefore = fingerprint(damaged);
    expect(() => openDatabase(damaged)).toThrow(/STORE_UNREADABLE/);
    expect(fingerprint(damaged)).toEqual(damagedBefore);
  });

  it('opens read-only without creating a file, and says so when there is none', () => {
    const path = tempDbPath();
    expect(() => openStore(path, { readonly: true })).toThrow(/NOT_FOUND: no database at/);
    expect(existsSync(path)).toBe(false);
  });

  it('read-only, calls an existing 0-byte file empty (not a run store yet), not absent', () => {
    const path = tempDbPath('empty.db');
    writeFileSync(path, '');
    expectLabError(() => openStore(path, { readonly: true }), 'NOT_FOUND', /empty\.db is an empty file \(0 bytes\), not a run store yet/, { path, empty: true });
    expect(statSync(path).size).toBe(0);
  });

  describe('a store SQLite finds damaged (the runs_by_status index page overwritten)', () => {
    /** A store with runs and a checkpoint, all in the main file, then 300 bytes of page 3 (runs_by_status) overwritten. */
    function damagedStore(): string {
      const path = tempDbPath();
      const db = openDatabase(path);
      for (let i = 0; i < 3; i++) insertRunRow(db, { status: 'completed' });
      saveCheckpoint(db, 1, { epoch: 1, step: 10, data: checkpointBytes(1, 10) });
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(300, 0xff), 0, 300, 8192);
      closeSync(fd);
      return path;
    }

    it("integrityCheck reports the damage as problems (integrity_check itself fails on it: quick_check's rows)", () => {
      const db = new Database(damagedStore(), { readonly: true });
      try {
        const result = integrityCheck(db);
        expect(result.ok).toBe(false);
        expect(result.problems.join('\n')).toMatch(/page 3: btreeInitPage\(\) returns error code 11/);
        expect(result.problems).toContain('wrong # of entries in index runs_by_status');
      } finally {
        db.close();
      }
    });

    it('openStore is STORE_UNREADABLE naming the file, what SQLite said and what to do, not a bare SqliteError', () => {
      const path = damagedStore();
      const before = fingerprint(path);
      // Read-write, the open reads runs by status (recoverInterrupted) through the damaged index.
      expectLabError(
        () => openStore(path),
        'STORE_UNREADABLE',
        /^STORE_UNREADABLE: the run store .*lab\.db is damaged \(SQLite: database disk image is malformed\); `odelab db check --db .*lab\.db` lists what is damaged; restore the file from a backup/,
        { path, damaged: true, sqliteCode: 'SQLITE_CORRUPT' },
      );
      expect(fingerprint(path).sha).toBe(before.sha);
    });
  });

  it('says which store it cannot create a folder for, and why (IO_ERROR), rather than throw a bare Node error', () => {
    const file = tempDbPath('a-file');
    writeFileSync(file, 'x');
    expectLabError(() => openStore(join(file, 'sub', 'lab.db')), 'IO_ERROR', /^IO_ERROR: cannot create the folder of the run store .*a-file\/sub\/lab\.db: ENOTDIR/, {
      path: join(file, 'sub', 'lab.db'),
    });
  });
});
