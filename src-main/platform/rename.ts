/**
 * rename that rides out Windows' passing refusals. There, antivirus, the search indexer or OneDrive opening a file
 * just written makes renaming it (or its folder) fail with EPERM, EACCES or EBUSY for a moment (libuv #1981), so
 * every atomic write would fail now and then under Documents or OneDrive. graceful-fs and VS Code retry such a
 * rename for up to a minute; we retry for up to 10 s, backing off. Elsewhere those codes mean a real problem (a
 * read-only folder, say) and fail at once.
 */
import { rename as renameAsync } from 'node:fs/promises';
import { renameSync as renameNow } from 'node:fs';
import { sleepSync } from './sleep';

const TRANSIENT_ON_WINDOWS = new Set(['EPERM', 'EACCES', 'EBUSY']);

export interface RetryPolicy {
  platform: NodeJS.Platform;
  /** How long to keep trying after the first refusal, in ms. */
  giveUpAfterMs: number;
}

const DEFAULT_POLICY: RetryPolicy = { platform: process.platform, giveUpAfterMs: 10_000 };

/** The wait before attempt n + 1 (n ≥ 1): 10, 20, 40 … ms, at most 500 ms. */
const backoff = (attempt: number) => Math.min(500, 10 * 2 ** (attempt - 1));

/** Whether to try again after this error, `elapsedMs` after the first attempt. */
function retryable(e: unknown, elapsedMs: number, policy: RetryPolicy): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return policy.platform === 'win32' && code !== undefined && TRANSIENT_ON_WINDOWS.has(code) && elapsedMs < policy.giveUpAfterMs;
}

export async function renameRetrying(
  from: string,
  to: string,
  policy: RetryPolicy = DEFAULT_POLICY,
  rename: (from: string, to: string) => Promise<void> = renameAsync,
): Promise<void> {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await rename(from, to);
    } catch (e) {
      if (!retryable(e, Date.now() - start, policy)) throw e;
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
    }
  }
}

/** The same for synchronous callers (a run folder's files are written from synchronous event handlers). */
export function renameSyncRetrying(
  from: string,
  to: string,
  policy: RetryPolicy = DEFAULT_POLICY,
  rename: (from: string, to: string) => void = renameNow,
): void {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return rename(from, to);
    } catch (e) {
      if (!retryable(e, Date.now() - start, policy)) throw e;
      sleepSync(backoff(attempt));
    }
  }
}
