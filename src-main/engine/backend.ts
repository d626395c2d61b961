/**
 * Picks the tfjs backend: `tensorflow` (native libtensorflow via tfjs-node-gpu, then tfjs-node) → `wasm`
 * (XNNPACK, SIMD) → `cpu` (plain JS, ~20× slower on convolutions). The choice can be forced with the
 * `backend` option or the ODELAB_BACKEND environment variable (the option wins); a forced backend that
 * cannot be had is an error, never a silent fallback, so a benchmark never runs on the wrong one unnoticed.
 */
import { LabError } from '../../src-shared/errors.js';
import { BACKENDS, requestedBackend, TENSORFLOW_PACKAGES, type BackendName } from './backend-request.js';
import { registerWasmKernels } from './kernels/index.js';
import { simdKernels } from './kernels/simd/simd-module.js';
import { tf } from './tf.js';

export { BACKENDS, type BackendName } from './backend-request.js';

export interface BackendSelection {
  backend: string;
  /** wasm only: whether the SIMD build was loaded. */
  simd?: boolean;
  /** wasm only: whether the multithreaded build was loaded (never in Node: tfjs disables it there). */
  threads?: boolean;
  /** Every backend ranked above the chosen one, with why it was not used. */
  skipped: { backend: string; reason: string }[];
}

/**
 * Why the run is on the plain-JS `cpu` backend when wasm was skipped (e.g. our SIMD kernels not built): a
 * note for the user, since every step is then about two orders of magnitude slower. Undefined otherwise (a missing
 * native tfjs-node is the normal case and not worth a word).
 */
export function slowBackendNote(selection: BackendSelection): string | undefined {
  if (selection.backend !== 'cpu') return undefined;
  const wasm = selection.skipped.find((s) => s.backend === 'wasm');
  return wasm && `running on the slow 'cpu' backend because 'wasm' is unavailable: ${wasm.reason}`;
}

type Attempt = { ok: true; simd?: boolean; threads?: boolean } | { ok: false; reason: string };

function errorMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0];
}

async function activate(name: BackendName): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function tryTensorflow(): Promise<Attempt> {
  const failures: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      // A variable specifier keeps tsc and bundlers from resolving a package that is usually not installed.
      await import(pkg);
    } catch (e) {
      const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && errorMessage(e).includes(`'${pkg}'`);
      failures.push(`${pkg}: ${missing ? 'not installed (optional dependency)' : errorMessage(e)}`);
      continue;
    }
    // A package that bundles its own tfjs-core registers into that copy's registry, invisible to ours.
    if (tf.findBackendFactory('tensorflow') === null) {
      failures.push(`${pkg}: loaded, but registered its backend with a different @tensorflow/tfjs-core copy`);
      continue;
    }
    if (await activate('tensorflow')) return { ok: true };
    failures.push(`${pkg}: loaded, but the 'tensorflow' backend failed to initialise`);
  }
  return { ok: false, reason: failures.join('; ') };
}

async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-wasm: ${errorMessage(e)}` };
  }
  // Before the backend is set, so the kernels exist from its first op (e.g. Conv2DBackpropFilter).
  registerWasmKernels();
  if (!(await activate('wasm'))) {
    return { ok: false, reason: "tf.setBackend('wasm') failed to initialise the WebAssembly module" };
  }
  try {
    simdKernels(tf.backend()); // our SIMD kernels share the backend's heap; without them its GroupNorm is missing
  } catch (e) {
    return { ok: false, reason: errorMessage(e) };
  }
  const [simd, threads] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  return { ok: true, simd: simd === true, threads: threads === true };
}

async function tryCpu(): Promise<Attempt> {
  return (await activate('cpu')) ? { ok: true } : { ok: false, reason: "tf.setBackend('cpu') failed" };
}

const attempts: Record<BackendName, () => Promise<Attempt>> = { tensorflow: tryTensorflow, wasm: tryWasm, cpu: tryCpu };

async function select(requested: BackendName | undefined): Promise<BackendSelection> {
  const skipped: BackendSelection['skipped'] = [];
  for (const name of requested ? [requested] : BACKENDS) {
    const attempt = await attempts[name]();
    if (attempt.ok) {
      const { ok: _ok, ...flags } = attempt;
      return { backend: name, ...flags, skipped };
    }
    if (requested) {
      throw new LabError('BACKEND_UNAVAILABLE', `backend '${name}' was requested but is unavailable: ${attempt.reason}`, {
        backend: name,
        reason: attempt.reason,
      });
    }
    skipped.push({ backend: name, reason: attempt.reason });
  }
  throw new LabError('BACKEND_UNAVAILABLE', 'no tfjs backend could be initialised', { skipped });
}

// One selection per request ('auto' or a name); a repeat call only re-activates the backend if someone
// switched away from it in between. Failed selections are not cached, so they can be retried.
const selections = new Map<string, Promise<BackendSelection>>();

/**
 * Selects and activates the backend; resolves with the one chosen and why each better one was skipped.
 * Throws LabError INVALID_ARGUMENT for an unknown name and BACKEND_UNAVAILABLE when a requested backend
 * cannot be initialised.
 */
export async function selectBackend(opts: { backend?: BackendName } = {}): Promise<BackendSelection> {
  const requested = requestedBackend(opts);
  const key = requested ?? 'auto';
  let pending = selections.get(key);
  if (pending === undefined) {
    pending = select(requested);
    selections.set(key, pending);
    pending.catch(() => selections.delete(key));
  }
  const selection = await pending;
  if (tf.getBackend() !== selection.backend && !(await activate(selection.backend as BackendName))) {
    selections.delete(key);
    throw new LabError('BACKEND_UNAVAILABLE', `backend '${selection.backend}' could not be re-activated`, {
      backend: selection.backend,
    });
  }
  return { ...selection, skipped: selection.skipped.map((s) => ({ ...s })) };
}
