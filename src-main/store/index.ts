/**
 * The run store: every run, metric, evaluation artefact and checkpoint in one SQLite file (better-sqlite3, WAL).
 * Knows nothing of tfjs. Repositories are plain functions over the connection; `openStore` also marks the runs
 * a dead process left behind as interrupted.
 */
import { guardDamage, openDatabase, type Db, type OpenOptions } from './database';
import { recoverInterrupted } from './runs';

export interface RunStore {
  db: Db;
  path: string;
  /** Runs this open found orphaned (writer gone) and marked 'interrupted'. */
  interrupted: number[];
  close(): void;
}

/**
 * Opens the store (openDatabase) and marks its orphaned runs interrupted. A file SQLite finds damaged on the way is
 * STORE_UNREADABLE naming it (damagedStoreError), not SQLite's bare error.
 */
export function openStore(path: string, opts: OpenOptions = {}): RunStore {
  const db = openDatabase(path, opts);
  try {
    const interrupted = opts.readonly ? [] : guardDamage(path, () => recoverInterrupted(db));
    return { db, path, interrupted, close: () => db.close() };
  } catch (e) {
    db.close();
    throw e;
  }
}

export { openDatabase, integrityCheck, guardDamage, asStoreError, isDamagedStoreError, damagedStoreError, type Db } from './database';
export { SCHEMA_VERSION } from './migrations';
export * from './runs';
export { THIS_PROCESS, processAlive, processStartToken, type Owner } from './process-identity';
export * from './checkpoints';
export * from './resume-points';
export * from './datasets';
export * from './studies';
export { RunWriter } from './run-writer';
export { insertBatchRows, deleteBatchesAfter, rebuildBuckets } from './metrics';
export { type BatchRow } from './metric-inputs';
export {
  batchSeries,
  epochSeries,
  BATCH_METRICS,
  EPOCH_METRICS,
  SERIES_AXES,
  EPOCH_AXES,
  type BatchMetric,
  type EpochMetric,
  type EpochAxis,
  type SeriesAxis,
  type Series,
  type SeriesPoint,
} from './metric-series';
export { downsampleM4 } from './downsample';
export { finalAndBest, type RunOutcome } from './outcomes';
export { exportRuns, exportStudy } from './export';
export { exportCsv, type CsvTable } from './export-csv';
export { type ExportDocument } from './export-format';
export { importDocument, importExportDocument } from './import';
export { parseExportDocument } from './import-validation';
export { configDiff } from './config-diff';
