/** Whether importing modules loads tfjs, asked of a fresh process (a test process has loaded it already). */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

/**
 * Imports `modules` (paths from the repository root) in a new Node process, every path of their import graphs
 * included (re-exports, dynamic imports), and expects tfjs-core's engine global not to exist after them; then
 * imports the engine's tf module and expects it to exist, so the probe itself is known to work.
 */
export function expectNoTfjsFrom(modules: string[]): void {
  const script = `
    for (const m of ${JSON.stringify(modules)}) await import('./' + m);
    console.log('_tfengine' in globalThis);
    await import('./src-main/engine/tf.ts');
    console.log('_tfengine' in globalThis);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('false\ntrue\n');
}
