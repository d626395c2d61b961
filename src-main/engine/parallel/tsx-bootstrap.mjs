// Worker entry when the engine runs from TypeScript sources (tsx, vitest): Node 20 does not apply a
// `--import tsx` given in a Worker's execArgv to the worker's own entry module, so register tsx's loader here
// and then import the real entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
