/**
 * `mkdir -p` that fails instead of hanging. Node's `mkdirSync(dir, { recursive: true })` loops forever where the
 * kernel answers ENOENT under a parent that exists (`/proc/x` on Linux): a `--out /proc/x` would hang the CLI.
 * Each missing component is created in turn, so a failure is Node's own error, for the component that failed.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break; // a root that does not exist (a missing drive on Windows)
  }
  // The path itself exists: mkdir throws EEXIST unless it is a directory, as the recursive form does.
  if (missing.length === 0 && !statSync(dir).isDirectory()) mkdirSync(dir);
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      // Another process created it meanwhile: fine, if it is a directory.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(p).isDirectory()) throw e;
    }
  }
}
