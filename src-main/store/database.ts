/**
 * Opening the run store's SQLite file: refuse what we must not touch (not SQLite, damaged, written by a newer
 * schema) before anything is written, then migrate, and set the connection up (WAL, foreign keys, busy timeout).
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { LabError } from '../../src-shared/errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { makeDirectory } from '../platform/make-directory';
import { sleepSync } from '../platform/sleep';

export type Db = Database.Database;

const SQLITE_HEADER = 'SQLite format 3\0';

export interface OpenOptions {
  /** Open for reading only: nothing is migrated or recovered (a newer or older schema is still refused). */
  readonly?: boolean;
  /** Apply migrations up to this version only (tests of migrating from earlier versions). */
  targetVersion?: number;
}

/** The first 16 bytes of a non-empty file must be SQLite's header; checked before SQLite may write anything. */
function assertSqliteFile(path: string): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const n = readSync(fd, head, 0, 16, 0);
    if (n < 16 || head.toString('latin1') !== SQLITE_HEADER) {
      throw new LabError('STORE_UNREADABLE', `${path} is not a Neural ODE Lab database (not an SQLite file); it was left untouched`, {
        path,
        expected: 'SQLite format 3',
      });
    }
  } finally {
    closeSync(fd);
  }
}

function storedVersion(db: Db, path: string): number {
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } catch (e) {
    if (isDamagedStoreError(e)) throw damagedStoreError(path, e);
    throw new LabError('STORE_UNREADABLE', `${path} cannot be read as an SQLite database: ${(e as Error).message}`, { path });
  }
}

function assertNotNewer(version: number, path: string): void {
  if (version > SCHEMA_VERSION) {
    throw new LabError(
      'STORE_NEWER_SCHEMA',
      `${path} was written by a newer Neural ODE Lab (schema version ${version}; this version understands up to ${SCHEMA_VERSION}); update the lab to open it — the file was left untouched`,
      { path, version, supported: SCHEMA_VERSION },
    );
  }
}

/**
 * Applies the migrations up to `to`, each in its own BEGIN IMMEDIATE transaction that re-reads user_version first:
 * several processes opening a new (or older) store at once take turns, and each migration is applied once (the
 * version read before the write lock was taken may be stale: another process may have migrated since).
 */
function migrate(db: Db, path: string, to: number): void {
  for (;;) {
    const applied = db
      .transaction(() => {
        const version = storedVersion(db, path);
        assertNotNewer(version, path);
        const next = MIGRATIONS.find((m) => m.version > version && m.version <= to);
        if (!next) return false;
        db.exec(next.sql);
        db.pragma(`user_version = ${next.version}`);
        return true;
      })
      .immediate();
    if (!applied) return;
  }
}

/** A SQLite error saying the file is damaged or not a database (SQLITE_CORRUPT*, SQLITE_NOTADB), by its code. */
export function isDamagedStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/** STORE_UNREADABLE for a store SQLite found damaged: which file, what SQLite said, and what to do. */
export function damagedStoreError(path: string, e: unknown): LabError {
  const said = e instanceof Error ? e.message : String(e);
  return new LabError(
    'STORE_UNREADABLE',
    `the run store ${path} is damaged (SQLite: ${said}); \`odelab db check --db ${path}\` lists what is damaged; restore the file from a backup (with its -wal file, if any)`,
    { path, damaged: true, sqliteCode: (e as { code?: unknown }).code },
  );
}

/**
 * `work` on the store at `path`, with SQLite's "damaged" errors (SQLITE_CORRUPT*, SQLITE_NOTADB) made
 * STORE_UNREADABLE naming the file (damagedStoreError); other errors pass unchanged.
 */
export function guardDamage<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (e) {
    throw asStoreError(path, e);
  }
}

/** `e` as the store at `path` should report it: damagedStoreError for SQLite's "damaged" errors, else `e` itself. */
export function asStoreError(path: string, e: unknown): unknown {
  return isDamagedStoreError(e) ? damagedStoreError(path, e) : e;
}

/**
 * Opens (creating if absent) the database at `path`, or ':memory:'. A file that is not SQLite, or that a newer
 * schema wrote, is refused with STORE_UNREADABLE / STORE_NEWER_SCHEMA before a byte of it changes: the check runs
 * on a read-only connection first.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const target = opts.targetVersion ?? SCHEMA_VERSION;
  if (path !== ':memory:') {
    assertSqliteFile(path);
    if (existsSync(path) && statSync(path).size > 0) {
      const probe = new Database(path, { readonly: true, fileMustExist: true });
      try {
        assertNotNewer(storedVersion(probe, path), path);
      } finally {
        probe.close();
      }
    } else if (opts.readonly) {
      if (existsSync(path)) {
        throw new LabError('NOT_FOUND', `${path} is an empty file (0 bytes), not a run store yet: nothing has been recorded in it`, { path, empty: true });
      }
      throw new LabError('NOT_FOUND', `no database at ${path}`, { path });
    } else {
      try {
        makeDirectory(dirname(path));
      } catch (e) {
        throw new LabError('IO_ERROR', `cannot create the folder of the run store ${path}: ${(e as Error).message}`, { path });
      }
    }
  }
  const db = new Database(path, { readonly: !!opts.readonly });
  try {
    const version = storedVersion(db, path);
    assertNotNewer(version, path);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    if (opts.readonly) {
      if (version < SCHEMA_VERSION) {
        throw new LabError('STORE_UNREADABLE', `${path} has schema version ${version}; open it once read-write to upgrade it to ${SCHEMA_VERSION}`, {
          path,
          version,
        });
      }
      return db;
    }
    if (path !== ':memory:') enableWal(db);
    // NORMAL in WAL mode: a committed transaction survives a killed process (only an OS crash may lose the last ones).
    db.pragma('synchronous = NORMAL');
    if (version < target) migrate(db, path, target); // most opens: up to date, and no write lock taken
    return db;
  } catch (e) {
    db.close();
    if (e instanceof LabError) throw e;
    if (isDamagedStoreError(e)) throw damagedStoreError(path, e);
    throw new LabError('STORE_UNREADABLE', `${path} cannot be opened as a run store: ${(e as Error).message}`, { path });
  }
}

/**
 * `PRAGMA journal_mode = WAL`, retried for up to 5 s: the switch needs an exclusive lock, and where another process
 * opening the same new store holds a lock SQLite answers SQLITE_BUSY at once, without waiting out busy_timeout
 * (1 in 32 processes failed so when four opened one new store together).
 */
function enableWal(db: Db): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      sleepSync(10 + Math.random() * 20);
    }
  }
}

/**
 * `PRAGMA integrity_check` (and foreign keys): 'ok' or the problems SQLite reports. Some damage makes
 * integrity_check itself fail (SQLITE_CORRUPT, where it cross-checks an index against its table): then
 * quick_check's problems, which it reports as rows, and failing that the error itself as the one problem.
 */
export function integrityCheck(db: Db): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  // A row may hold several lines, the first naming the schema ("*** in database main ***"): one problem a line.
  const check = (pragma: string) =>
    (db.pragma(pragma) as Record<string, string>[])
      .flatMap((r) => Object.values(r)[0].split('\n'))
      .filter((line) => line !== 'ok' && !/^\*\*\* in database \w+ \*\*\*$/.test(line));
  try {
    problems.push(...check('integrity_check'));
  } catch (e) {
    if (!isDamagedStoreError(e)) throw e;
    try {
      problems.push(...check('quick_check'));
    } catch (e2) {
      if (!isDamagedStoreError(e2)) throw e2;
      problems.push(`SQLite cannot check the file: ${(e2 as Error).message}`);
    }
    if (problems.length === 0) problems.push(`integrity_check failed: ${(e as Error).message}`);
  }
  try {
    const fk = db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
    for (const f of fk) problems.push(`foreign key: ${f.table} row ${f.rowid} refers to a missing ${f.parent}`);
  } catch (e) {
    if (!isDamagedStoreError(e)) throw e;
    problems.push(`foreign key check failed: ${(e as Error).message}`);
  }
  return { ok: problems.length === 0, problems };
}
