/** Where the CLI keeps runs by default: beside the datasets folder, in the lab's app-data directory. */
import { dirname, join } from 'node:path';
import { defaultDataDir } from '../data';

export function defaultRunsDir(): string {
  return process.env.ODELAB_RUNS_DIR ?? join(dirname(defaultDataDir()), 'runs');
}
