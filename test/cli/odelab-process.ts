/** `odelab` as a user runs it: bin/odelab.js in its own process, with a test's environment (its store, data). */
import { spawn, spawnSync } from 'node:child_process';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `odelab <args>` and waits for it (this process blocks meanwhile). */
export function runOdelab(env: NodeJS.ProcessEnv, args: string[], timeout = 120_000): CliResult {
  const r = spawnSync(process.execPath, ['bin/odelab.js', ...args], { encoding: 'utf8', env, timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking: several can run at once, and this process keeps reading another's output. */
export function startOdelab(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ['bin/odelab.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
