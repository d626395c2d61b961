/**
 * Who holds a run folder: run.json's process judged by pid and start token (a reused pid holds nothing), and
 * claims made atomic across processes by run.lock.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRunFolder, claimRunFolder, releaseRunFolder, type FolderOwner } from '../../src-main/lab/run-folder';
import { processStartToken, THIS_PROCESS } from '../../src-main/store/process-identity';
import { tempDir } from '../train/fixtures';

const onLinux = process.platform === 'linux';
const run7 = { runId: 7, createdAt: '2026-11-24T10:00:00.000Z', store: '/lab.db' };
const run8 = { ...run7, runId: 8 };

const readRunJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as FolderOwner;

/** A folder whose run.json says `owner` writes run 7 into it. */
function heldBy(owner: Partial<FolderOwner>): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...run7, ...owner }));
  return dir;
}

/** A live process that is not this one. */
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
afterAll(() => sleeper.kill());

describe('run folder owners', () => {
  it.runIf(onLinux)("takes run.json's process for alive only while its pid still names it (start token)", () => {
    const pid = sleeper.pid!;
    const host = hostname();
    const started = processStartToken(pid);
    const inUse = `in use: process ${pid} is writing run 7 of /lab.db`;
    // The process that claimed the folder, alive: every other run is kept out.
    const live = heldBy({ pid, host, started });
    expect(() => checkRunFolder(live)).toThrow(inUse);
    expect(() => claimRunFolder(live, { ...run8, ...THIS_PROCESS })).toThrow(inUse);
    // A run.json written before tokens: judged by its pid alone, as before.
    expect(() => claimRunFolder(heldBy({ pid, host }), { ...run8, ...THIS_PROCESS })).toThrow(inUse);
    // Another process has that pid now: the folder is free.
    const reused = heldBy({ pid, host, started: `${started}0` });
    expect(checkRunFolder(reused)).toBe(false);
    claimRunFolder(reused, { ...run8, ...THIS_PROCESS });
    expect(readRunJson(reused)).toEqual({ ...run8, ...THIS_PROCESS });
  });

  it.runIf(onLinux)('frees a folder an earlier process with this pid held (a restarted container), and releases only its own', () => {
    const earlier = { ...THIS_PROCESS, started: `${THIS_PROCESS.started}0` };
    const dir = heldBy(earlier);
    expect(checkRunFolder(dir)).toBe(false);
    // Not this process's to release: run.json stays as the earlier process wrote it.
    releaseRunFolder(dir);
    expect(readRunJson(dir)).toEqual({ ...run7, ...earlier });
    claimRunFolder(dir, { ...run8, ...THIS_PROCESS });
    expect(() => checkRunFolder(dir)).toThrow(`in use: process ${process.pid} is writing run 8`);
    releaseRunFolder(dir);
    expect(readRunJson(dir)).toEqual(run8);
    expect(checkRunFolder(dir)).toBe(false);
  });
});
