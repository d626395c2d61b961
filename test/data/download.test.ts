import { once } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadVerified, loadDataset, type DataProgress } from '../../src-main/data/index';
import { encodeIdx } from '../../src-main/data/idx';
import { LabError, isLabError } from '../../src-shared/errors';
import { BASES, gz, md5, removeDir, sha256, snapshot, tempDir, tinyDatasetFiles } from './fixtures';

/**
 * A local stand-in for the mirrors. Routes: /good/<file> serves the file, /bad/ the same length with one byte
 * changed, /cut/ half the bytes then drops the connection, /404/ nothing, /slow/ 8 KiB every 20 ms.
 */
let server: Server;
let base: string;
const served = new Map<string, Uint8Array>();
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const [, route, file] = (req.url ?? '').split('/');
    const body = served.get(file);
    if (route === '404' || !body) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
    if (route === 'good') res.writeHead(200, headers).end(body);
    else if (route === 'bad') {
      const wrong = Uint8Array.from(body);
      wrong[wrong.length >> 1] ^= 0x55;
      res.writeHead(200, headers).end(wrong);
    } else if (route === 'cut') {
      res.writeHead(200, headers);
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
    } else if (route === 'slow') {
      res.writeHead(200, headers);
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= body.length) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(body.subarray(at, (at += 8192)));
      }, 20);
      res.on('close', () => clearInterval(timer));
    } else res.writeHead(500).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
  hits.length = 0;
  served.clear();
});
afterEach(() => removeDir(dir));

async function errorOf(p: Promise<unknown>): Promise<LabError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LabError);
  return e as LabError;
}

describe('downloadVerified', () => {
  const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);
  beforeEach(() => void served.set('blob.gz', payload));
  const dest = () => path.join(dir, 'blob.gz');

  it('downloads a good file, verifies MD5 and SHA-256, and reports progress up to the total', async () => {
    const events: { loaded: number; total: number | null }[] = [];
    const got = await downloadVerified([`${base}/good/blob.gz`], dest(), { md5: md5(payload), sha256: sha256(payload) }, {
      onProgress: (p) => events.push(p),
      progressEvery: 50_000,
    });
    expect(got).toEqual({ url: `${base}/good/blob.gz`, bytes: payload.length, sha256: sha256(payload) });
    expect(sha256(await readFile(dest()))).toBe(sha256(payload));
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toEqual({ url: `${base}/good/blob.gz`, loaded: payload.length, total: payload.length });
    expect(events.every((e, i) => i === 0 || e.loaded > events[i - 1].loaded)).toBe(true);
    expect(await readdir(dir)).toEqual(['blob.gz']);
  });

  it('rejects a checksum mismatch and leaves no file behind', async () => {
    const e = await errorOf(downloadVerified([`${base}/bad/blob.gz`], dest(), { md5: md5(payload) }));
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toMatch(new RegExp(`/bad/blob\\.gz: expected MD5 ${md5(payload)}, found [0-9a-f]{32}`));
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails on a connection cut half-way and leaves no file behind', async () => {
    const e = await errorOf(downloadVerified([`${base}/cut/blob.gz`], dest(), { md5: md5(payload) }));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain(`${base}/cut/blob.gz: `);
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails on a 404', async () => {
    const e = await errorOf(downloadVerified([`${base}/404/blob.gz`], dest(), { md5: md5(payload) }));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain(`${base}/404/blob.gz: HTTP 404 Not Found`);
  });

  it('falls through failing mirrors to one that works, in order', async () => {
    const urls = ['404', 'cut', 'bad', 'good'].map((r) => `${base}/${r}/blob.gz`);
    const got = await downloadVerified(urls, dest(), { sha256: sha256(payload) });
    expect(got.url).toBe(`${base}/good/blob.gz`);
    expect(hits).toEqual(['/404/blob.gz', '/cut/blob.gz', '/bad/blob.gz', '/good/blob.gz']);
    expect(await readdir(dir)).toEqual(['blob.gz']);
  });

  it('says a verified file it cannot put in place is an I/O error here, and does not fetch it again from the next mirror', async () => {
    // A folder (not empty) where the file should go: rename cannot replace it, on any system.
    await mkdir(path.join(dest(), 'inside'), { recursive: true });
    const e = await errorOf(downloadVerified([`${base}/good/blob.gz`, `${base}/good/blob.gz?again`], dest(), { md5: md5(payload) }));
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toMatch(new RegExp(`^IO_ERROR: downloaded ${base}/good/blob\\.gz but could not write ${dest().replace(/[.\\/]/g, '\\$&')}: `));
    expect(hits).toEqual(['/good/blob.gz']);
    expect(await readdir(dir)).toEqual(['blob.gz']); // the temporary file is gone
  });

  it('reports every mirror when all fail', async () => {
    const e = await errorOf(downloadVerified([`${base}/404/blob.gz`, `${base}/bad/blob.gz`], dest(), { md5: md5(payload) }));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toMatch(/404\/blob\.gz: HTTP 404.*; .*bad\/blob\.gz: expected MD5/);
    expect((e.details.attempts as unknown[]).length).toBe(2);
  });

  it('stops at once when cancelled mid-download, trying no further mirror and leaving no file', async () => {
    const controller = new AbortController();
    const urls = [`${base}/slow/blob.gz`, `${base}/good/blob.gz`];
    const p = downloadVerified(urls, dest(), { md5: md5(payload) }, {
      signal: controller.signal,
      progressEvery: 1,
      onProgress: (ev) => ev.loaded > 0 && controller.abort(),
    });
    const e = await errorOf(p);
    expect(e.code).toBe('CANCELLED');
    expect(hits).toEqual(['/slow/blob.gz']);
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not start when already cancelled', async () => {
    const e = await errorOf(downloadVerified([`${base}/good/blob.gz`], dest(), { md5: md5(payload) }, { signal: AbortSignal.abort() }));
    expect(e.code).toBe('CANCELLED');
    expect(hits).toEqual([]);
  });

  it('needs a checksum and a mirror', async () => {
    expect((await errorOf(downloadVerified([`${base}/good/blob.gz`], dest(), {}))).code).toBe('INVALID_ARGUMENT');
    expect((await errorOf(downloadVerified([], dest(), { md5: md5(payload) }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('loadDataset from the mirrors', () => {
  /** Serves the tiny dataset gzipped; returns MD5 overrides for it (the published ones are for the real files). */
  function serveTiny(files = tinyDatasetFiles()): Record<string, string> {
    const sums: Record<string, string> = {};
    for (const b of BASES) {
      const z = gz(files[b]);
      served.set(`${b}.gz`, z);
      sums[`${b}.gz`] = md5(z);
    }
    return sums;
  }

  it('downloads through the mirror list into the data directory, then reuses that copy', async () => {
    const md5s = serveTiny();
    const events: DataProgress[] = [];
    const mirrors = [`${base}/404/`, `${base}/good`];
    const ds = await loadDataset({ kind: 'mnist' }, { dataDir: dir, systemDirs: [], mirrors, md5: md5s, onProgress: (e) => events.push(e) });
    expect(ds.source).toEqual({ kind: 'download', path: path.join(dir, 'mnist'), urls: BASES.map((b) => `${base}/good/${b}.gz`) });
    expect(ds.train.labels.length).toBe(30);
    expect(hits).toHaveLength(8); // each file: 404 first, then the good mirror
    const done = events.filter((e) => e.phase === 'download');
    expect(new Set(done.map((e) => e.phase === 'download' && e.file))).toEqual(new Set(BASES.map((b) => `${b}.gz`)));
    expect((await readdir(path.join(dir, 'mnist'))).sort()).toEqual(['manifest.json', ...BASES.map((b) => `${b}.gz`)].sort());
    const manifest = JSON.parse(await readFile(path.join(dir, 'mnist', 'manifest.json'), 'utf8')) as { origin: string };
    expect(manifest.origin).toBe('download');

    hits.length = 0;
    const again = await loadDataset({ kind: 'mnist' }, { dataDir: dir, systemDirs: [], mirrors, md5: md5s });
    expect(again.source).toMatchObject({ kind: 'data-dir', origin: 'download' });
    expect(hits).toEqual([]);
    expect(Buffer.from(again.test.images).equals(Buffer.from(ds.test.images))).toBe(true);
  });

  it('verifies against the published checksums: other bytes never land in the data directory', async () => {
    serveTiny();
    const e = await errorOf(loadDataset({ kind: 'fashion-mnist' }, { dataDir: dir, systemDirs: [], mirrors: [`${base}/good/`] }));
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toContain('expected MD5 8d4fb7e6c68d591d4c3dfef9ec88bf0d'); // Zalando's train-images MD5
    expect(await snapshot(dir)).toEqual({});
  });

  it('validates downloaded content too: a matching checksum on a bad file publishes nothing', async () => {
    const files = tinyDatasetFiles();
    files['t10k-labels-idx1-ubyte'] = encodeIdx('labels', [20], new Uint8Array(20).fill(11));
    const md5s = serveTiny(files);
    const e = await errorOf(loadDataset({ kind: 'mnist' }, { dataDir: dir, systemDirs: [], mirrors: [`${base}/good/`], md5: md5s }));
    expect(e.code).toBe('DATASET_CORRUPT');
    expect(e.message).toMatch(/t10k-labels-idx1-ubyte\.gz: expected labels 0–9, found 11 at index 0/);
    expect(await snapshot(dir)).toEqual({});
  });

  it('a cancelled download leaves nothing that could pass as valid', async () => {
    const files = tinyDatasetFiles(400, 20); // 313 KB of incompressible images: 39 slow chunks
    const md5s = serveTiny(files);
    const controller = new AbortController();
    const events: DataProgress[] = [];
    const e = await errorOf(
      loadDataset({ kind: 'mnist' }, {
        dataDir: dir,
        systemDirs: [],
        mirrors: [`${base}/slow/`],
        md5: md5s,
        signal: controller.signal,
        onProgress: (ev) => {
          events.push(ev);
          if (ev.phase === 'download' && ev.loaded > 0) controller.abort();
        },
      }),
    );
    expect(e.code).toBe('CANCELLED');
    // Told when the first file's request went out, then cancelled inside it, after its first 256 KiB step.
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({ phase: 'download', file: 'train-images-idx3-ubyte.gz', url: `${base}/slow/train-images-idx3-ubyte.gz`, loaded: 0, total: null });
    expect(events[1]).toMatchObject({ phase: 'download', file: 'train-images-idx3-ubyte.gz', total: served.get('train-images-idx3-ubyte.gz')?.length });
    expect(events[1].phase === 'download' && events[1].loaded < (events[1].total ?? 0)).toBe(true);
    expect(await snapshot(dir)).toEqual({});
    const after = await loadDataset({ kind: 'mnist' }, { dataDir: dir, systemDirs: [], download: false }).catch((err: unknown) => err);
    expect(isLabError(after, 'DATASET_NOT_FOUND')).toBe(true);
  });
});
