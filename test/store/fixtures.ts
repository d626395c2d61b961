/** Store test fixtures: a fresh database in a temp folder, and run rows made as the recorder would. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { encodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { openDatabase, type Db } from '../../src-main/store/database';
import { LabError } from '../../src-shared/errors';
import { RunConfig, type RunConfigInput } from '../../src-shared/run-config';

export function tempDbPath(name = 'lab.db'): string {
  return join(mkdtempSync(join(tmpdir(), 'odelab-store-')), name);
}

export function freshDb(path = tempDbPath()): Db {
  return openDatabase(path);
}

export function sampleConfig(overrides: Partial<RunConfigInput> = {}): RunConfig {
  return RunConfig.parse({
    model: { name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.05 } },
    dataset: { kind: 'shapes', mode: 'compound', trainCount: 2700, testCount: 6000 },
    optimizer: { kind: 'adam', lr: 3e-3 },
    batchSize: 120,
    epochs: 5,
    ...overrides,
  });
}

/** A run row with only what the schema requires (status 'running' unless given). */
export function insertRunRow(db: Db, opts: { name?: string; status?: string; config?: RunConfig; batchesPerEpoch?: number } = {}): number {
  const config = opts.config ?? sampleConfig();
  const info = db
    .prepare(
      `INSERT INTO runs (name, created_at, status, config_json, config_hash, model, dataset, method, seed, batches_per_epoch)
       VALUES (?, ?, ?, ?, 'test', ?, ?, ?, ?, ?)`,
    )
    .run(
      opts.name ?? 'test run',
      new Date().toISOString(),
      opts.status ?? 'running',
      JSON.stringify(config),
      config.model.name,
      config.dataset.kind,
      config.model.solver.method,
      config.seed,
      opts.batchesPerEpoch ?? 100,
    );
  return Number(info.lastInsertRowid);
}

/**
 * A factory of fresh stores, each closed after the test that opened it. Call it at a test file's top level (it
 * registers the afterEach).
 */
export function dbsClosedAfterEachTest(): () => Db {
  const opened: Db[] = [];
  afterEach(() => opened.splice(0).forEach((d) => d.close()));
  return () => {
    const d = freshDb();
    opened.push(d);
    return d;
  };
}

/** `fn` throws a LabError with this code, a message matching `message`, and (if given) these details. */
export function expectLabError(fn: () => unknown, code: string, message: RegExp, details?: Record<string, unknown>): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LabError);
    expect((e as LabError).code).toBe(code);
    expect((e as LabError).message).toMatch(message);
    if (details) expect((e as LabError).details).toMatchObject(details);
    return;
  }
  throw new Error('expected a LabError');
}

/** A real checkpoint (the engine's bytes) of `epoch` and `step` with `floats` weights, each its index + `offset`. */
export function checkpointBytes(epoch: number, step: number, floats = 1000, offset = 0): Buffer {
  const weights = [{ shape: [floats], data: Float32Array.from({ length: floats }, (_, i) => i + offset) }];
  const bytes = encodeCheckpoint({ config: sampleConfig(), epoch, step, weights, optimizer: { iterations: step, tensors: [] } });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A resume point's bytes (ODLCKPT3): inside epoch `epoch` (1-based, in progress) after its `batch`-th batch. */
export function resumePointBytes(epoch: number, batch: number, step: number, floats = 1000): Buffer {
  const weights = [{ shape: [floats], data: Float32Array.from({ length: floats }, (_, i) => i) }];
  const nfe = Array<number>(batch).fill(20);
  const position = { batches: batch, lossSum: 1.5 * batch, correct: batch, seen: 10 * batch, stepsAccepted: 0, stepsRejected: 0, peakTensorBytes: 1, nfeForward: nfe, nfeBackward: nfe, seconds: 1 };
  const bytes = encodeCheckpoint({ config: sampleConfig(), epoch: epoch - 1, step, weights, optimizer: { iterations: step, tensors: [] }, position });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
