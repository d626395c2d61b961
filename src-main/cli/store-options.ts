/** Opening the run store for a command (`--db`, else the default), and closing it however the command ends. */
import { LabService } from '../lab/lab-service';
import { openStore, type RunStore } from '../store';
import { defaultDbPath } from './paths';

export async function withStore<T>(dbPath: string | undefined, work: (store: RunStore) => Promise<T> | T, readonly = false): Promise<T> {
  const store = openStore(dbPath ?? defaultDbPath(), { readonly });
  try {
    return await work(store);
  } finally {
    store.close();
  }
}

export function withService<T>(dbPath: string | undefined, work: (service: LabService) => Promise<T>): Promise<T> {
  return withStore(dbPath, (store) => work(new LabService(store)));
}
