import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLabError } from '../../src-shared/errors.js';
import { selectBackend, slowBackendNote, type BackendName } from '../../src-main/engine/backend.js';
import { tf } from '../../src-main/engine/tf.js';

const saved = process.env.ODELAB_BACKEND;
beforeEach(() => {
  delete process.env.ODELAB_BACKEND;
});
afterEach(() => {
  if (saved === undefined) delete process.env.ODELAB_BACKEND;
  else process.env.ODELAB_BACKEND = saved;
});

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const hasTensorflow = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('selectBackend', () => {
  it.runIf(!hasTensorflow)('picks wasm by default here, with SIMD, saying why tensorflow was skipped', async () => {
    const selection = await selectBackend();
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.simd).toBe(true);
    expect(selection.threads).toBe(false);
    expect(selection.skipped).toHaveLength(1);
    expect(selection.skipped[0].backend).toBe('tensorflow');
    expect(selection.skipped[0].reason).toBe(
      '@tensorflow/tfjs-node-gpu: not installed (optional dependency); @tensorflow/tfjs-node: not installed (optional dependency)',
    );
    // Our kernels were registered before wasm was set: conv2d is differentiable w.r.t. its filter.
    const g = tf.grad((f: tf.Tensor) => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid').sum());
    expect(Array.from(await g(tf.ones([3, 3, 1, 1])).data())).toEqual(new Array(9).fill(4));
  });

  it('is idempotent: a repeat call is cheap and re-activates the backend if it was switched away', async () => {
    const first = await selectBackend();
    const start = performance.now();
    expect(await selectBackend()).toEqual(first);
    expect(performance.now() - start).toBeLessThan(50);
    await tf.setBackend('cpu');
    expect(await selectBackend()).toEqual(first);
    expect(tf.getBackend()).toBe(first.backend);
  });

  it('honours ODELAB_BACKEND=cpu, and the option wins over the environment', async () => {
    process.env.ODELAB_BACKEND = 'cpu';
    expect(await selectBackend()).toEqual({ backend: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await selectBackend({ backend: 'wasm' });
    expect(wasm).toMatchObject({ backend: 'wasm', simd: true, skipped: [] });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown backend name with INVALID_ARGUMENT naming it and the allowed ones', async () => {
    process.env.ODELAB_BACKEND = 'webgpu';
    const fromEnv = await rejection(selectBackend());
    expect(isLabError(fromEnv, 'INVALID_ARGUMENT')).toBe(true);
    expect(String((fromEnv as Error).message)).toMatch(/ODELAB_BACKEND.*"webgpu".*tensorflow, wasm, cpu/);

    const fromOption = await rejection(selectBackend({ backend: 'WASM' as BackendName }));
    expect(isLabError(fromOption, 'INVALID_ARGUMENT')).toBe(true);
    expect(String((fromOption as Error).message)).toContain('"WASM"');
  });

  it.runIf(!hasTensorflow)('fails with BACKEND_UNAVAILABLE, not a fallback, when tensorflow is requested here', async () => {
    await selectBackend({ backend: 'wasm' });
    const error = await rejection(selectBackend({ backend: 'tensorflow' }));
    expect(isLabError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toContain('@tensorflow/tfjs-node');
    expect(tf.getBackend()).toBe('wasm');
    // Through the environment too.
    process.env.ODELAB_BACKEND = 'tensorflow';
    expect(isLabError(await rejection(selectBackend()), 'BACKEND_UNAVAILABLE')).toBe(true);
  });

  it.runIf(hasTensorflow)('picks tensorflow where tfjs-node is installed', async () => {
    expect((await selectBackend()).backend).toBe('tensorflow');
  });
});

describe('slowBackendNote', () => {
  it('warns when the automatic choice fell through to cpu because wasm failed, and says why', () => {
    const reason = 'the SIMD kernels are not built: …/kernels.wasm is missing (run `npm run build:kernels`)';
    const note = slowBackendNote({
      backend: 'cpu',
      skipped: [
        { backend: 'tensorflow', reason: 'not installed' },
        { backend: 'wasm', reason },
      ],
    });
    expect(note).toContain("'cpu'");
    expect(note).toContain(reason);
  });

  it('says nothing on wasm (tfjs-node missing is normal) nor on a cpu backend that was asked for', () => {
    expect(slowBackendNote({ backend: 'wasm', skipped: [{ backend: 'tensorflow', reason: 'not installed' }] })).toBeUndefined();
    expect(slowBackendNote({ backend: 'cpu', skipped: [] })).toBeUndefined();
  });
});
