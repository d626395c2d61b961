/**
 * Importing a folder into the data directory. The tiny fixtures are not the published MNIST files, so these
 * imports allow custom files; recognising the published ones is tested on the real files (real.test.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeIdx } from '../../src-main/data/idx';
import { importDataset, loadDataset, planIdxSource, type DataProgress } from '../../src-main/data/index';
import { isLabError } from '../../src-shared/errors';
import { BASES, MNIST_DIR, removeDir, sha256, snapshot, tempDir, tinyDatasetFiles, writeDataset, type Base } from './fixtures';

let root: string;
let dataDir: string;
let folder: string;

beforeEach(async () => {
  root = await tempDir();
  dataDir = path.join(root, 'data');
  folder = path.join(root, 'import');
  await mkdir(folder);
});
afterEach(() => removeDir(root));

const offline = () => ({ dataDir, systemDirs: [], download: false });

describe('importDataset', () => {
  it('validates a mixed gz/raw folder, copies it into the data directory, and loadDataset then finds it there', async () => {
    const files = tinyDatasetFiles();
    await writeDataset(folder, files, ['train-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);
    const imported = await importDataset('mnist', folder, { dataDir, allowCustom: true });
    // Tiny files are not the published ones: a custom dataset, and the copy says so wherever it is loaded.
    expect(imported.source).toEqual({ kind: 'imported', path: path.join(dataDir, 'mnist'), from: folder, custom: true });
    expect(imported.train.labels.length).toBe(30);
    expect(imported.test.images.length).toBe(20 * 784);

    const stored = (await readdir(path.join(dataDir, 'mnist'))).sort();
    expect(stored).toEqual(['manifest.json', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte']);
    expect((await readdir(dataDir)).filter((n) => n.startsWith('.'))).toEqual([]); // no staging leftovers

    const loaded = await loadDataset({ kind: 'mnist' }, offline());
    expect(loaded.source).toEqual({ kind: 'data-dir', path: path.join(dataDir, 'mnist'), origin: 'imported', from: folder, custom: true });
    expect(Buffer.from(loaded.train.images).equals(Buffer.from(files['train-images-idx3-ubyte'].subarray(16)))).toBe(true);
    expect(Array.from(loaded.test.labels.slice(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(loaded.classes).toHaveLength(10);
    expect(loaded.imageShape).toEqual([28, 28, 1]);
  });

  it('accepts the dotted file names of other distributions (train-images.idx3-ubyte)', async () => {
    const files = tinyDatasetFiles();
    for (const base of BASES) await writeFile(path.join(folder, base.replace(/-(idx\d)/, '.$1')), files[base]);
    const ds = await importDataset('fashion-mnist', folder, { dataDir, allowCustom: true });
    expect(ds.name).toBe('Fashion-MNIST');
    expect(ds.classes[9]).toBe('Ankle boot');
  });

  it('a new import replaces the previous copy', async () => {
    await writeDataset(folder, tinyDatasetFiles(30, 20));
    await importDataset('mnist', folder, { dataDir, allowCustom: true });
    const second = path.join(root, 'second');
    await mkdir(second);
    await writeDataset(second, tinyDatasetFiles(40, 10), [...BASES]);
    await importDataset('mnist', second, { dataDir, allowCustom: true });
    const loaded = await loadDataset({ kind: 'mnist' }, offline());
    expect(loaded.train.labels.length).toBe(40);
    expect(loaded.source).toMatchObject({ kind: 'data-dir', from: second });
    expect((await readdir(dataDir)).sort()).toEqual(['mnist']);
  });

  /** Writes the tiny dataset into `folder` with some files replaced; `after` damages what was written. */
  const write = async (replace: Partial<Record<Base, Uint8Array>>, gzipped: Base[] = [], after?: () => Promise<void>) => {
    await writeDataset(folder, { ...tinyDatasetFiles(), ...replace }, gzipped);
    await after?.();
  };
  const badCases: { name: string; code: 'DATASET_CORRUPT' | 'DATASET_NOT_FOUND'; message: RegExp; prepare: () => Promise<void> }[] = [
    {
      name: 'truncated gz',
      code: 'DATASET_CORRUPT',
      message: /train-images-idx3-ubyte\.gz: expected a complete gzip stream, found a gzip stream cut short/,
      prepare: () =>
        write({}, ['train-images-idx3-ubyte'], async () => {
          const p = path.join(folder, 'train-images-idx3-ubyte.gz');
          const z = await readFile(p);
          await writeFile(p, z.subarray(0, z.length >> 1));
        }),
    },
    {
      name: 'wrong magic',
      code: 'DATASET_CORRUPT',
      message: /t10k-images-idx3-ubyte: expected magic 2051 \(IDX images\), found magic 2049 \(IDX labels\)/,
      prepare: () => write({ 't10k-images-idx3-ubyte': tinyDatasetFiles()['t10k-labels-idx1-ubyte'] }),
    },
    {
      name: 'header/length mismatch',
      code: 'DATASET_CORRUPT',
      message: /train-images-idx3-ubyte: expected 23 536 bytes for 30×28×28, found the data truncated at byte 23 436 of 23 536/,
      prepare: () => write({ 'train-images-idx3-ubyte': tinyDatasetFiles()['train-images-idx3-ubyte'].subarray(0, 23_436) }),
    },
    {
      name: 'label out of range',
      code: 'DATASET_CORRUPT',
      message: /t10k-labels-idx1-ubyte: expected labels 0–9, found 10 at index 5/,
      prepare: () => write({ 't10k-labels-idx1-ubyte': encodeIdx('labels', [20], Uint8Array.from({ length: 20 }, (_, i) => (i === 5 ? 10 : 1))) }),
    },
    {
      name: 'mismatched counts',
      code: 'DATASET_CORRUPT',
      message: /train-labels-idx1-ubyte: expected 30 labels \(one per image in .*train-images-idx3-ubyte\), found 29/,
      prepare: () => write({ 'train-labels-idx1-ubyte': encodeIdx('labels', [29], new Uint8Array(29)) }),
    },
    {
      name: 'non-IDX file',
      code: 'DATASET_CORRUPT',
      message: /train-labels-idx1-ubyte: expected magic 2049 \(IDX labels\), found magic \d+ \(0x3c68746d\) — not an IDX file/,
      prepare: () => write({ 'train-labels-idx1-ubyte': new TextEncoder().encode('<html><body>Not Found</body></html>') }),
    },
    {
      name: 'images of the wrong size',
      code: 'DATASET_CORRUPT',
      message: /train-images-idx3-ubyte: expected 28×28 images, found 32×32/,
      prepare: () => write({ 'train-images-idx3-ubyte': encodeIdx('images', [30, 32, 32], new Uint8Array(30 * 1024)) }),
    },
    {
      name: 'a missing file',
      code: 'DATASET_NOT_FOUND',
      message: /expected the four MNIST IDX files, missing t10k-labels-idx1-ubyte\[\.gz\]/,
      prepare: () => write({}, [], () => rm(path.join(folder, 't10k-labels-idx1-ubyte'))),
    },
  ];

  for (const c of badCases) {
    it(`rejects ${c.name} with a specific error and leaves the data directory as it was`, async () => {
      // A previous good import must survive a bad one untouched.
      const good = path.join(root, 'good');
      await mkdir(good);
      await writeDataset(good, tinyDatasetFiles(), ['train-images-idx3-ubyte']);
      await importDataset('mnist', good, { dataDir, allowCustom: true });
      const before = await snapshot(dataDir);
      expect(Object.keys(before)).toHaveLength(5);

      await c.prepare();
      const err = await importDataset('mnist', folder, { dataDir, allowCustom: true }).catch((e: unknown) => e);
      expect(isLabError(err, c.code)).toBe(true);
      expect((err as Error).message).toMatch(c.message);
      expect(await snapshot(dataDir)).toEqual(before);
    });
  }
});

describe('the data directory copy', () => {
  it('is re-verified on load: a changed file is skipped with a reason, and the next source is used', async () => {
    await writeDataset(folder, tinyDatasetFiles());
    await importDataset('mnist', folder, { dataDir, allowCustom: true });
    const stored = path.join(dataDir, 'mnist', 'train-labels-idx1-ubyte');
    const bytes = await readFile(stored);
    bytes[20] = (bytes[20] + 1) % 10; // still a valid IDX file, but not the verified one
    await writeFile(stored, bytes);

    // The next source: a system copy, which must be the published files (the real ones here).
    const events: DataProgress[] = [];
    const ds = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [MNIST_DIR], download: false, onProgress: (e) => events.push(e) });
    expect(ds.source).toEqual({ kind: 'system', path: MNIST_DIR });
    expect(ds.train.labels.length).toBe(60_000);
    const skip = events.find((e) => e.phase === 'skip');
    expect(skip).toMatchObject({ phase: 'skip', source: 'data-dir' });
    expect(skip && 'reason' in skip ? skip.reason : '').toMatch(/train-labels-idx1-ubyte: changed since it was verified: expected SHA-256 [0-9a-f]{64}, found [0-9a-f]{64}/);

    const err = await loadDataset({ kind: 'mnist' }, offline()).catch((e: unknown) => e);
    expect(isLabError(err, 'DATASET_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/downloads are off; import the four IDX files; tried: data-dir .*changed since it was verified/);
  });

  it('without any copy and downloads off, says where it looked', async () => {
    const err = await loadDataset({ kind: 'fashion-mnist' }, offline()).catch((e: unknown) => e);
    expect(isLabError(err, 'DATASET_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain(`Fashion-MNIST is not in ${dataDir} nor in any system folder`);
  });
});

describe('files that are not the published ones', () => {
  it('are refused unless custom files are allowed, each named with its content hash, and nothing is written', async () => {
    await writeDataset(folder, tinyDatasetFiles(), ['train-images-idx3-ubyte']);
    const err = await importDataset('mnist', folder, { dataDir }).catch((e: unknown) => e);
    expect(isLabError(err, 'INVALID_ARGUMENT')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(`${folder}: not the published MNIST files: train-images-idx3-ubyte.gz (decompressed SHA-256 `);
    expect(message).toMatch(/train-images-idx3-ubyte\.gz \(decompressed SHA-256 [0-9a-f]{12}…, published ba891046e650…\), train-labels-idx1-ubyte \(/);
    expect(message).toContain('t10k-labels-idx1-ubyte (decompressed SHA-256 ');
    expect(message).toMatch(/; to import a dataset of your own under the name mnist, allow custom files \(odelab datasets import --force\)$/);
    expect(existsSync(dataDir)).toBe(false);

    const ds = await importDataset('mnist', folder, { dataDir, allowCustom: true });
    expect(ds.custom).toEqual(['train-images-idx3-ubyte.gz', ...BASES.slice(1)].map((n) => path.join(folder, n)));
  });
});

describe('a data directory that cannot be used', () => {
  const shapes = { kind: 'shapes', trainCount: 20, testCount: 10 } as const;

  it('is named, with what is wrong, when it is a file or lies under one (import, download, shapes)', async () => {
    const file = path.join(root, 'file');
    await writeFile(file, 'not a folder');
    await writeDataset(folder, tinyDatasetFiles());
    const cases = [
      [file, 'it is a file, not a directory'],
      [path.join(file, 'sub'), `${file} is a file, not a directory`],
    ];
    for (const [dir, problem] of cases) {
      const expected = `INVALID_ARGUMENT: cannot use the data directory ${dir}: ${problem}`;
      const imported = await importDataset('mnist', folder, { dataDir: dir, allowCustom: true }).catch((e: unknown) => e);
      expect(isLabError(imported, 'INVALID_ARGUMENT') && imported.message).toBe(expected);
      expect(isLabError(imported) && imported.details).toMatchObject({ dataDir: dir, errno: expect.any(String) });
      // A download stages its files in the data directory first: refused before any request (the mirror is unreachable).
      const fetched = await loadDataset({ kind: 'mnist' }, { dataDir: dir, systemDirs: [], mirrors: ['http://127.0.0.1:9/'] }).catch((e: unknown) => e);
      expect(isLabError(fetched, 'INVALID_ARGUMENT') && fetched.message).toBe(expected);
      const generated = await loadDataset(shapes, { dataDir: dir }).catch((e: unknown) => e);
      expect(isLabError(generated, 'INVALID_ARGUMENT') && generated.message).toBe(expected);
    }
    expect(await readFile(file, 'utf8')).toBe('not a folder');
  });

  it('is named when it is not writable, or its nearest existing parent is not (as an unprivileged user when root)', async () => {
    const locked = path.join(root, 'locked');
    await mkdir(locked, { mode: 0o555 }); // readable and traversable by anyone, writable by no one but root
    const cases = [
      [locked, 'it is not writable'],
      [path.join(locked, 'sub', 'data'), `${locked} is not writable, so the directory cannot be created there`],
    ];
    try {
      for (const [dir, problem] of cases) {
        const expected = `INVALID_ARGUMENT: cannot use the data directory ${dir}: ${problem}`;
        if (process.getuid?.() === 0) {
          // Root writes anywhere: load in a child process without that privilege, which prints the error it met.
          const result = await loadUnprivileged(dir);
          expect(result).toEqual({ ok: false, error: { name: 'LabError', code: 'INVALID_ARGUMENT', message: expected } });
        } else {
          const err = await loadDataset(shapes, { dataDir: dir }).catch((e: unknown) => e);
          expect(isLabError(err, 'INVALID_ARGUMENT') && err.message).toBe(expected);
        }
      }
      expect(await readdir(locked)).toEqual([]); // nothing was written
    } finally {
      await chmod(locked, 0o700);
    }
  });
});

/**
 * Runs load-shapes-child.ts with `dataDir` as root without its power to write anywhere: in a user namespace
 * (`unshare -U`), the process keeps its uid for reading (the repository may sit in a folder only root can enter)
 * but has no capability over the files outside. Its one JSON line, or throws with its stderr.
 */
async function loadUnprivileged(dataDir: string): Promise<unknown> {
  const script = path.join(__dirname, 'load-shapes-child.ts');
  const child = spawn('unshare', ['--user', process.execPath, '--import', 'tsx', script, dataDir], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line) throw new Error(`load-shapes-child exited ${code}: ${err || out}`);
  return JSON.parse(line) as unknown;
}

describe('planIdxSource', () => {
  it('names the source loadDataset would use, from the files present alone', async () => {
    const system = path.join(root, 'system');
    await mkdir(system);
    const mirrors = ['https://mirror.example/mnist/'];
    const plan = () => planIdxSource('mnist', { dataDir, systemDirs: [path.join(root, 'absent'), system], mirrors });
    const download = { kind: 'download', path: path.join(dataDir, 'mnist'), urls: mirrors };
    expect(await plan()).toEqual(download);
    await writeDataset(system, tinyDatasetFiles(), ['t10k-labels-idx1-ubyte']);
    await rm(path.join(system, 'train-labels-idx1-ubyte'));
    expect(await plan()).toEqual(download); // three files of four: not a copy loadDataset would use
    await writeDataset(system, tinyDatasetFiles(), ['t10k-labels-idx1-ubyte']);
    expect(await plan()).toEqual({ kind: 'system', path: system });
    // The plan is optimistic: loading reads the files, and these are IDX files but not the published MNIST, so the
    // system copy is skipped (each file named with its content hash) and, downloads off, nothing is loaded.
    const events: DataProgress[] = [];
    const load = () => loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [system], download: false, onProgress: (e) => events.push(e) });
    const err = await load().catch((e: unknown) => e);
    const files = tinyDatasetFiles();
    const sums = ['ba891046e650', '65a50cbbf4e9', '0fa7898d5092', 'ff7bcfd416de']; // the published MNIST files'
    const named = BASES.map((b, i) => `${b}${i === 3 ? '.gz' : ''} (decompressed SHA-256 ${sha256(files[b]).slice(0, 12)}…, published ${sums[i]}…)`);
    const reason =
      `DATASET_CORRUPT: ${system}: not the published MNIST files: ${named.join(', ')}; ` +
      `a damaged copy or a dataset of your own, not used; to train on it anyway, import it (odelab datasets import mnist ${system} --force)`;
    expect(isLabError(err, 'DATASET_NOT_FOUND') && err.message).toBe(
      `DATASET_NOT_FOUND: MNIST has no usable copy in ${dataDir} nor in any system folder, and downloads are off; ` +
        `import the four IDX files; tried: system ${system}: ${reason}`,
    );
    expect(events.map((e) => e.phase)).toEqual(['verify', 'verify', 'verify', 'verify', 'skip']);
    expect(events[4]).toEqual({ phase: 'skip', source: 'system', path: system, reason });
    await writeDataset(folder, tinyDatasetFiles());
    await importDataset('mnist', folder, { dataDir, allowCustom: true });
    expect(await plan()).toEqual({ kind: 'data-dir', path: path.join(dataDir, 'mnist'), origin: 'imported', from: folder, custom: true });
    expect((await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [system], download: false })).source).toMatchObject({ kind: 'data-dir' });
  });
});
