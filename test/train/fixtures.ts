/** Small real datasets and configs for the training tests: generated shapes, a few hundred images. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, type Dataset } from '../../src-main/data';
import { initEngine } from '../../src-main/engine';
import { RunConfig, type RunConfigInput } from '../../src-shared/run-config';

export const tinyShapes = { kind: 'shapes', mode: 'compound', trainCount: 240, testCount: 70, seed: 5 } as const;

export function tinyConfig(overrides: Partial<RunConfigInput> = {}): RunConfig {
  return RunConfig.parse({
    model: { name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.25 } },
    dataset: tinyShapes,
    optimizer: { kind: 'adam', lr: 3e-3 },
    batchSize: 60,
    epochs: 2,
    seed: 11,
    ...overrides,
  });
}

export function tempDir(prefix = 'odelab-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function tinyDataset(): Promise<Dataset> {
  return loadDataset(tinyShapes, { dataDir: tempDir(), cache: false });
}

/** The engine started and tinyDataset loaded: what a trainer test's beforeAll needs. */
export async function engineWithTinyDataset(): Promise<{ backend: string; dataset: Dataset }> {
  const { backend } = await initEngine();
  return { backend, dataset: await tinyDataset() };
}

/** The bias-corrected exponential average Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ of `ws` (each a flat array), in float64. */
export function expectedAverage(ws: ArrayLike<number>[], decay: number): number[] {
  const n = ws.length;
  const norm = ws.reduce((s, _, i) => s + decay ** (n - 1 - i), 0);
  return Array.from(ws[0], (_, j) => ws.reduce((s, w, i) => s + decay ** (n - 1 - i) * w[j], 0) / norm);
}
