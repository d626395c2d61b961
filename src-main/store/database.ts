/**
 * Opening the run store's SQLite file: refuse what we must not touch (not SQLite, damaged, written by a newer
 * schema) before anything is written, then migrate, and set the connection up (WAL, foreign keys, busy timeout).
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { LabError } from '../../src-shared/errors';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations';
import { makeDirectory } from '../platform/make-directory';

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

function migrate(db: Db, from: number, to: number): void {
  const pending: Migration[] = MIGRATIONS.filter((m) => m.version > from && m.version <= to);
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
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
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a killed process (only an OS crash may lose the last ones).
    db.pragma('synchronous = NORMAL');
    migrate(db, version, target);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof LabError) throw e;
    throw new LabError('STORE_UNREADABLE', `${path} cannot be opened as a run store: ${(e as Error).message}`, { path });
  }
}

/** `PRAGMA integrity_check` (and foreign keys): 'ok' or the problems SQLite reports. */
export function integrityCheck(db: Db): { ok: boolean; problems: string[] } {
  const rows = db.pragma('integrity_check') as { integrity_check: string }[];
  const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
  const fk = db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
  for (const f of fk) problems.push(`foreign key: ${f.table} row ${f.rowid} refers to a missing ${f.parent}`);
  return { ok: problems.length === 0, problems };
}
