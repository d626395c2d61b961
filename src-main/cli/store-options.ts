/** Opening the run store for a command (`--db`, else the default), and closing it however the command ends. */
import { Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../../src-shared/errors';
import { LabService } from '../lab/lab-service';
import { asStoreError, openStore, type RunStore } from '../store';
import { defaultDbPath } from './paths';

export interface StoreAccess {
  /** Open read-only: nothing is migrated and no interrupted run is marked (the file must exist). */
  readonly?: boolean;
  /**
   * The command works on runs already stored: a store file that does not exist is NOT_FOUND naming its path and
   * is not created (a mistyped `--db` must not leave an empty store behind). Only `import` and `train` create one.
   */
  existing?: boolean;
  /**
   * When the lab's own default store (no `--db`, no `$ODELAB_DB`) does not exist yet, as on a machine that has
   * recorded no run, work on an empty store in memory instead (`runs list`: no runs), creating nothing; without
   * it, NOT_FOUND saying so. A path the user named is never excused.
   */
  emptyIfDefaultAbsent?: boolean;
}

/** `--db`: the run store a command works on; only `train` and `runs import` create one that is absent. */
export const dbOption = (creates = false) =>
  new Option('--db <file>', `run store${creates ? ', created if absent' : ', which must exist'} (default: $ODELAB_DB, else lab.db in the lab's app-data folder)`);

/** The store file a command uses: `--db`, else `$ODELAB_DB`, else lab.db in the lab's app-data folder. */
export function storePath(dbPath: string | undefined): { path: string; named: boolean } {
  // An empty value is a mistake (an unset shell variable), not "somewhere": SQLite would open a throwaway store.
  if (dbPath === '') throw new LabError('INVALID_ARGUMENT', '--db: expected a file path, got an empty string', { field: 'db' });
  if (dbPath === undefined && process.env.ODELAB_DB === '') {
    throw new LabError('INVALID_ARGUMENT', '$ODELAB_DB is set but empty: unset it (the default store) or give a file path', { field: 'db' });
  }
  const path = dbPath ?? defaultDbPath();
  if (existsSync(path) && statSync(path).isDirectory()) {
    const given = dbPath !== undefined ? '--db' : process.env.ODELAB_DB !== undefined ? '$ODELAB_DB' : 'the default store';
    throw new LabError('INVALID_ARGUMENT', `${given} ${path} is a folder; expected the store's file (e.g. ${join(path, 'lab.db')})`, { field: 'db', path });
  }
  return { path, named: dbPath !== undefined || process.env.ODELAB_DB !== undefined };
}

/** `readonly` as a boolean is StoreAccess's `readonly`. */
export async function withStore<T>(dbPath: string | undefined, work: (store: RunStore) => Promise<T> | T, access: boolean | StoreAccess = false): Promise<T> {
  const { readonly = false, existing = readonly, emptyIfDefaultAbsent } = typeof access === 'boolean' ? { readonly: access } : access;
  const { path, named } = storePath(dbPath);
  let open = { path, readonly };
  if (existing && !existsSync(path)) {
    if (named || !emptyIfDefaultAbsent) {
      throw new LabError('NOT_FOUND', `no database at ${path}${named ? '' : " (the lab's default store: no run has been recorded yet)"}; nothing was created`, { path, field: 'db' });
    }
    open = { path: ':memory:', readonly: false };
  }
  const store = openStore(open.path, { readonly: open.readonly });
  try {
    return await work(store);
  } catch (e) {
    // SQLite met a damaged page on the way: say which store, and what to do, not SQLite's bare error.
    throw asStoreError(open.path, e);
  } finally {
    store.close();
  }
}

export function withService<T>(dbPath: string | undefined, work: (service: LabService) => Promise<T>, access: StoreAccess = {}): Promise<T> {
  return withStore(dbPath, (store) => work(new LabService(store)), access);
}
