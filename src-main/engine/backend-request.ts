/**
 * Which tfjs backend a caller asked for (the `backend` option, else ODELAB_BACKEND), read without loading tfjs,
 * so a process that only launches training (the CLI, the app's main process) can refuse a request that cannot be
 * met before it creates a run: a name that is not a backend, or `tensorflow` where no tfjs-node package is
 * installed. Whether an installed backend also initialises is only known where it loads (backend.ts).
 */
import { LabError } from '../../src-shared/errors.js';

export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Optional dependencies that fail to install on machines without libtensorflow; absent is the normal case. */
export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

function parseBackend(value: unknown, source: string): BackendName {
  if (typeof value === 'string' && (BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new LabError(
    'INVALID_ARGUMENT',
    `${source} is ${JSON.stringify(value)}; expected one of ${BACKENDS.join(', ')}`,
    { field: 'backend', value: String(value), allowed: [...BACKENDS] },
  );
}

/** The explicitly requested backend, from the option or else ODELAB_BACKEND; undefined means automatic. */
export function requestedBackend(opts: { backend?: BackendName }): BackendName | undefined {
  if (opts.backend !== undefined) return parseBackend(opts.backend, 'backend option');
  const env = process.env.ODELAB_BACKEND?.trim();
  return env ? parseBackend(env, 'ODELAB_BACKEND') : undefined;
}

function installed(pkg: string): boolean {
  try {
    import.meta.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses, before any run exists, a backend request that cannot be met: an unknown name (INVALID_ARGUMENT) or
 * `tensorflow` with no tfjs-node package installed (BACKEND_UNAVAILABLE).
 */
export function checkBackendRequest(opts: { backend?: BackendName }): void {
  if (requestedBackend(opts) !== 'tensorflow' || TENSORFLOW_PACKAGES.some(installed)) return;
  throw new LabError(
    'BACKEND_UNAVAILABLE',
    `backend 'tensorflow' was requested but neither ${TENSORFLOW_PACKAGES.join(' nor ')} is installed ` +
      `(optional dependencies: they install where libtensorflow can be downloaded); use wasm or cpu`,
    { backend: 'tensorflow', packages: TENSORFLOW_PACKAGES },
  );
}
