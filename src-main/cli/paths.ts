/** Where the CLI keeps its run store by default: lab.db in the lab's app-data folder, beside the datasets folder. */
import { join } from 'node:path';
import { appDataDir } from '../data/dataDir';

/** $ODELAB_DB, else the app-data folder's lab.db; a data directory moved by $ODELAB_DATA_DIR does not move it. */
export function defaultDbPath(): string {
  return process.env.ODELAB_DB ?? join(appDataDir(), 'lab.db');
}
