/**
 * Downloads one file from a list of mirrors, first success wins. The body streams to a temporary file while
 * being hashed; only a file whose checksum matches is renamed to its final name, so a failed, cut or
 * cancelled download never leaves a file that could later pass as valid. A 404, a cut connection or a
 * checksum mismatch moves on to the next mirror; cancellation stops at once.
 */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { LabError, type LabErrorCode } from '../../src-shared/errors';
import { asCancelled, throwIfAborted } from './cancel';
import { tempName } from './fsAtomic';
import { renameRetrying } from '../platform/rename';

export interface ExpectedDigest {
  /** Hex digests; at least one must be given. */
  md5?: string;
  sha256?: string;
}

export interface DownloadProgress {
  url: string;
  loaded: number;
  /** From Content-Length, when the server sends one. */
  total: number | null;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Minimum bytes between two progress events (the last chunk always reports). */
  progressEvery?: number;
}

export interface DownloadResult {
  url: string;
  bytes: number;
  sha256: string;
}

interface Attempt {
  url: string;
  code: LabErrorCode;
  reason: string;
}

export async function downloadVerified(
  urls: readonly string[],
  dest: string,
  expected: ExpectedDigest,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  if (!expected.md5 && !expected.sha256) {
    throw new LabError('INVALID_ARGUMENT', `download of ${dest}: no checksum to verify against`);
  }
  if (urls.length === 0) throw new LabError('INVALID_ARGUMENT', `download of ${dest}: no mirror URLs`);
  const attempts: Attempt[] = [];
  for (const url of urls) {
    throwIfAborted(opts.signal, `download of ${url}`);
    const tmp = tempName(dest);
    let got: Fetched;
    try {
      got = await fetchToFile(url, tmp, opts);
    } catch (e) {
      await rm(tmp, { force: true });
      const cancelled = asCancelled(e, opts.signal, `download of ${url}`);
      if (cancelled) throw cancelled;
      attempts.push({ url, code: 'DOWNLOAD_FAILED', reason: describeFetchError(e) });
      continue;
    }
    const mismatch = compareDigests(expected, got);
    if (mismatch) {
      attempts.push({ url, code: 'CHECKSUM_MISMATCH', reason: mismatch });
      await rm(tmp, { force: true });
      continue;
    }
    // The right bytes are on disk: failing to put them in place is this machine's problem, not the mirror's, and
    // another mirror would fail the same way.
    try {
      await renameRetrying(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new LabError('IO_ERROR', `downloaded ${url} but could not write ${dest}: ${(e as Error).message}`, { file: dest, url });
    }
    return { url, bytes: got.bytes, sha256: got.sha256 };
  }
  // All mirrors failed. If every one served the wrong bytes, say so; otherwise it is a download failure.
  const code: LabErrorCode = attempts.every((a) => a.code === 'CHECKSUM_MISMATCH') ? 'CHECKSUM_MISMATCH' : 'DOWNLOAD_FAILED';
  const lines = attempts.map((a) => `${a.url}: ${a.reason}`).join('; ');
  throw new LabError(code, `could not download ${dest} from any mirror (${lines})`, { file: dest, attempts });
}

interface Fetched {
  bytes: number;
  md5: string;
  sha256: string;
}

async function fetchToFile(url: string, tmp: string, opts: DownloadOptions): Promise<Fetched> {
  // Said before the request, so a mirror that never answers is named while the user waits on it.
  opts.onProgress?.({ url, loaded: 0, total: null });
  const res = await fetch(url, { signal: opts.signal, redirect: 'follow' });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new HttpStatusError(res.status, res.statusText);
  }
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  const every = opts.progressEvery ?? 256 * 1024;
  let loaded = 0;
  let reported = 0;
  const fh = await open(tmp, 'wx');
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      md5.update(chunk);
      sha.update(chunk);
      await fh.write(chunk);
      loaded += chunk.length;
      if (loaded - reported >= every) {
        reported = loaded;
        opts.onProgress?.({ url, loaded, total });
      }
    }
  } finally {
    await fh.close();
  }
  // undici already fails a body shorter than Content-Length; this guards servers that lie the other way.
  if (total !== null && loaded !== total) throw new Error(`received ${loaded} of ${total} bytes`);
  if (loaded !== reported) opts.onProgress?.({ url, loaded, total });
  return { bytes: loaded, md5: md5.digest('hex'), sha256: sha.digest('hex') };
}

function compareDigests(expected: ExpectedDigest, got: Fetched): string | undefined {
  if (expected.sha256 && expected.sha256.toLowerCase() !== got.sha256) {
    return `expected SHA-256 ${expected.sha256}, found ${got.sha256}`;
  }
  if (expected.md5 && expected.md5.toLowerCase() !== got.md5) return `expected MD5 ${expected.md5}, found ${got.md5}`;
  return undefined;
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    statusText: string,
  ) {
    super(`HTTP ${status}${statusText ? ' ' + statusText : ''}`);
  }
}

/** fetch wraps network failures as `TypeError: fetch failed` / `terminated`; the cause holds the useful part. */
function describeFetchError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as Error & { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.message : undefined;
  return detail && detail !== e.message ? `${e.message} (${detail})` : e.message;
}
