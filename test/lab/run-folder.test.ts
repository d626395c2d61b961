/**
 * Who holds a run folder: run.json's process judged by pid and start token (a reused pid holds nothing), and
 * claims made atomic across processes by run.lock.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRunFolder, claimRunFolder, prepareRunFolder, releaseRunFolder, type FolderOwner } from '../../src-main/lab/run-folder';
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

/**
 * A process that claims each of `dirs` for run `runId` at the instants the test sends it (one per folder, `gap`
 * ms apart), reporting 'claimed' or the refusal per folder; it lives until `endAt`, so the winner of each round is
 * still alive when the loser looks.
 */
const CLAIMER = `
  import { createInterface } from 'node:readline';
  import { claimRunFolder } from './src-main/lab/run-folder.ts';
  import { THIS_PROCESS } from './src-main/store/process-identity.ts';
  const { dirs, runId } = JSON.parse(process.env.CLAIMS);
  const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  console.log('ready');
  const line = await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  const { startAt, gap, endAt } = JSON.parse(line);
  const results = dirs.map((dir, i) => {
    const at = startAt + i * gap;
    if (Date.now() < at - 3) sleep(at - 3 - Date.now());
    while (Date.now() < at); // the last milliseconds spun, so that both processes start together
    try {
      claimRunFolder(dir, { runId, createdAt: 'then', store: '/lab.db', ...THIS_PROCESS });
      return 'claimed';
    } catch (e) {
      return e.message;
    }
  });
  if (Date.now() < endAt) sleep(endAt - Date.now());
  console.log(JSON.stringify(results));
  process.exit(0);
`;

function startClaimer(dirs: string[], runId: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CLAIMER], {
    env: { ...process.env, CLAIMS: JSON.stringify({ dirs, runId }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const ready = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      if (l === 'ready') resolve();
    }),
  );
  const results = new Promise<string[]>((resolve) => child.on('close', () => resolve(JSON.parse(lines.at(-1)!) as string[])));
  return { child, ready, results };
}

describe('claiming a run folder', () => {
  it('lets exactly one of two processes that claim a folder at the same instant have it', async () => {
    const rounds = 60;
    const gap = 15;
    const dirs = Array.from({ length: rounds }, () => tempDir());
    const claimers = [startClaimer(dirs, 1), startClaimer(dirs, 2)];
    await Promise.all(claimers.map((c) => c.ready));
    const startAt = Date.now() + 100;
    const go = JSON.stringify({ startAt, gap, endAt: startAt + rounds * gap + 300 }) + '\n';
    claimers.forEach((c) => c.child.stdin!.end(go));
    const [a, b] = await Promise.all(claimers.map((c) => c.results));
    const [pidA, pidB] = claimers.map((c) => c.child.pid!);
    for (let i = 0; i < rounds; i++) {
      const winner = a[i] === 'claimed' ? 1 : 2;
      expect([a[i], b[i]], `round ${i}`).toContain('claimed');
      expect(winner === 1 ? b[i] : a[i], `round ${i}`).toContain(`in use: process ${winner === 1 ? pidA : pidB} is writing run ${winner} of /lab.db`);
      expect(readRunJson(dirs[i]).runId, `round ${i}`).toBe(winner);
      expect(existsSync(join(dirs[i], 'run.lock')), `round ${i}`).toBe(false);
    }
  }, 20_000);

  it('takes over a lock its process left behind (dead, its pid reused, or stuck for seconds), and waits for a live one', () => {
    const claim = (dir: string) => claimRunFolder(dir, { ...run7, ...THIS_PROCESS });
    const lockedBy = (content: object | string, ageSeconds = 0) => {
      const dir = tempDir();
      const lock = join(dir, 'run.lock');
      writeFileSync(lock, typeof content === 'string' ? content : JSON.stringify(content));
      const then = Date.now() / 1000 - ageSeconds;
      utimesSync(lock, then, then);
      return dir;
    };
    const host = hostname();
    const taken = [
      lockedBy({ pid: spawnSync('true').pid, host, started: null }), // its process died between open and unlink
      lockedBy({ pid: spawnSync('true').pid, host }),
      lockedBy('', 60), // its process died before writing it
      lockedBy({ pid: sleeper.pid, host, started: processStartToken(sleeper.pid!) }, 60), // alive, but stuck
    ];
    if (onLinux) taken.push(lockedBy({ pid: sleeper.pid, host, started: `${processStartToken(sleeper.pid!)}0` })); // pid reused
    for (const dir of taken) {
      claim(dir);
      expect(readRunJson(dir)).toEqual({ ...run7, ...THIS_PROCESS });
      expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    }
    // A live process holding the lock: waited for, then refused, the folder left as it was.
    const held = lockedBy({ pid: sleeper.pid, host, started: processStartToken(sleeper.pid!) });
    const t0 = Date.now();
    expect(() => claim(held)).toThrow(`--out ${held}: in use: process ${sleeper.pid} is claiming it (${join(held, 'run.lock')}); try again`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(existsSync(join(held, 'run.json'))).toBe(false);
    expect(existsSync(join(held, 'run.lock'))).toBe(true);
  });

  it('waits for a live holder that lets go, then claims the folder', () => {
    const dir = tempDir();
    const lock = join(dir, 'run.lock');
    // The holder lets go 0.5 s after its lock is there (the claim waits up to 2 s): timed from before the holder
    // starts, a claim that waited for it cannot take less, however slowly this process wrote the lock.
    const t0 = Date.now();
    const holder = spawn('sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.01; done; sleep 0.5; rm "$1"', 'holder', lock], { stdio: 'ignore' });
    writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: hostname(), started: processStartToken(holder.pid!) }));
    claimRunFolder(dir, { ...run7, ...THIS_PROCESS });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(readRunJson(dir)).toEqual({ ...run7, ...THIS_PROCESS });
    expect(existsSync(lock)).toBe(false);
  });

  it('keeps the folder usable around a claim: the lock is no run file, the undo and the release still work', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'run.lock'), ''); // left by a claim that crashed: not a run's file
    utimesSync(join(dir, 'run.lock'), Date.now() / 1000 - 60, Date.now() / 1000 - 60);
    expect(checkRunFolder(dir)).toBe(false);
    const undo = claimRunFolder(dir, { ...run7, ...THIS_PROCESS });
    undo();
    expect(existsSync(join(dir, 'run.json'))).toBe(false);
    claimRunFolder(dir, { ...run7, ...THIS_PROCESS });
    releaseRunFolder(dir);
    expect(readRunJson(dir)).toEqual(run7);
    expect(readdirSync(dir)).toEqual(['run.json']);
  });

  it.runIf(onLinux)('refuses a folder that cannot be created, saying why, where Node would hang (/proc)', () => {
    expect(() => prepareRunFolder('/proc/odelab-no-such/run')).toThrow(
      /^INVALID_ARGUMENT: --out \/proc\/odelab-no-such\/run: cannot create \/proc\/odelab-no-such\/run\/checkpoints: ENOENT/,
    );
  });
});
