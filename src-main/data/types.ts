/** Types shared by the dataset modules and returned through the public API (see index.ts). */
import type { DatasetSpec } from '../../src-shared/config';

/** One split: N images (row-major N·h·w·c bytes, 0–255) and N labels. */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Where a dataset's bytes came from, so the UI and the run record can say so. */
export type DatasetSource =
  /** The lab's data directory: a copy verified when it was imported or downloaded. */
  | { kind: 'data-dir'; path: string; origin: 'imported' | 'download'; from: string; custom?: true }
  /** importDataset: validated in `from`, copied to `path`. `custom`: not the published files (imported with force). */
  | { kind: 'imported'; path: string; from: string; custom?: true }
  /** A read-only system copy (e.g. Debian's dataset-fashion-mnist), read in place. */
  | { kind: 'system'; path: string }
  /** Fetched from the mirrors just now and stored in `path`. */
  | { kind: 'download'; path: string; urls: string[] }
  /** Generated just now; `path` is the cache entry written (absent when caching is off). */
  | { kind: 'generated'; path?: string }
  /** A generated dataset reused from the cache. */
  | { kind: 'cache'; path: string };

export interface Dataset {
  name: string;
  /** Class names, indexed by label. */
  classes: string[];
  /** [height, width, channels]. */
  imageShape: [number, number, number];
  train: Split;
  test: Split;
  source: DatasetSource;
  /** The parsed spec (defaults filled in) this dataset was loaded from. */
  spec: DatasetSpec;
}

/** Progress of long dataset work. `skip` reports a source that was tried and rejected (and why). */
export type DataProgress =
  | { phase: 'download'; file: string; url: string; loaded: number; total: number | null }
  | { phase: 'generate'; split: 'train' | 'test'; done: number; total: number }
  | { phase: 'verify'; file: string }
  | { phase: 'skip'; source: DatasetSource['kind']; path: string; reason: string };

export interface ProgressOptions {
  onProgress?: (event: DataProgress) => void;
  signal?: AbortSignal;
}
