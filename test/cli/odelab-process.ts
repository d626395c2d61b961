/** `odelab` as a user runs it: bin/odelab.js in its own process, with a test's environment (its store, data). */
import { spawn, spawnSync } from 'node:child_process';
import { expect } from 'vitest';

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

/** A command's --json output: one JSON document, indented as every runs/db/studies/eval command prints it. */
export async function jsonDocument(env: NodeJS.ProcessEnv, args: string[]) {
  const r = await startOdelab(env, [...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const value = JSON.parse(r.stdout);
  expect(r.stdout).toBe(JSON.stringify(value, null, 2) + '\n');
  return value;
}

/** A failure as main.ts prints it: one `CODE: message` (no stack trace) and the exit code. */
export function expectFailure(r: CliResult, exit: number, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.code).toBe(exit);
}
