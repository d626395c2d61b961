/** Where the CLI keeps its run store by default: beside the datasets folder, in the lab's app-data directory. */
import { dirname, join } from 'node:path';
import { defaultDataDir } from '../data/dataDir';

export function defaultDbPath(): string {
  return process.env.ODELAB_DB ?? join(dirname(defaultDataDir()), 'lab.db');
}
