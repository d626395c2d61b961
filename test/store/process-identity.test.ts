/** Telling a recorded process from a later one that got its pid: start tokens, from /proc on Linux, from ps elsewhere. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { isThisProcess, killSaysAlive, parsePsLine, parseStat, processAlive, processStartToken, psStatus, THIS_PROCESS } from '../../src-main/store/process-identity';

const onLinux = process.platform === 'linux';
/** macOS's way (ps) is tested wherever a ps is installed (procps here: a minimal Debian may lack it). */
const hasPs = spawnSync('ps', ['-p', String(process.pid)]).status === 0;
const host = hostname();

/** A live process that is not this one, and its start token. */
const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
afterAll(() => sleeper.kill());

describe('process identity', () => {
  it('reads state (field 3) and starttime (field 22) after the last ")", whatever the command name holds', () => {
    // comm "a b) (c) d" has spaces and parentheses: counting fields from the line's start would misread them.
    const line = '4242 (a b) (c) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 300 18446744073709551615 1 1 0\n';
    expect(parseStat(line)).toEqual({ state: 'S', startTime: '987654' });
    expect(parseStat('4242 (sleep) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 555 1 2')).toEqual({ state: 'Z', startTime: '555' });
    expect(parseStat('4242 (sleep) S 1 4242')).toBeNull(); // cut short
    expect(parseStat('not a stat line')).toBeNull();
  });

  it.runIf(onLinux)("names a process by its machine's boot and its start time, the same each time it is read", () => {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(THIS_PROCESS).toEqual({ pid: process.pid, host, started: processStartToken(process.pid) });
    expect(THIS_PROCESS.started).toMatch(new RegExp(`^${bootId}:\\d+$`));
    expect(THIS_PROCESS.started).toBe(`${bootId}:${parseStat(readFileSync('/proc/self/stat', 'utf8'))!.startTime}`);
    const token = processStartToken(sleeper.pid!);
    expect(token).toMatch(/^[0-9a-f-]{36}:\d+$/);
    expect(processStartToken(sleeper.pid!)).toBe(token);
    expect(processStartToken(spawnSync('true').pid)).toBeNull(); // gone
  });

  it("reads ps's start time and state letters, as macOS and the BSDs give them (no /proc there)", () => {
    expect(parsePsLine('Tue Nov 24 21:37:16 2026 Ss\n')).toEqual({ state: 'S', token: 'ps:Tue Nov 24 21:37:16 2026' });
    // Days below 10 are padded with a space: the token must not depend on it.
    expect(parsePsLine('  Mon Nov  3 09:05:01 2026 Z+')).toEqual({ state: 'Z', token: 'ps:Mon Nov 3 09:05:01 2026' });
    expect(parsePsLine('')).toBeNull();
  });

  it.runIf(hasPs)("names a process by ps's start time where there is no /proc: the same each time, none once it is gone", () => {
    const status = psStatus(sleeper.pid!);
    expect(status).toEqual({ state: 'S', token: expect.stringMatching(/^ps:\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}$/) });
    expect(psStatus(sleeper.pid!)).toEqual(status);
    expect(psStatus(spawnSync('true').pid!)).toBeNull(); // gone
  });

  it.runIf(onLinux)('takes a live pid for the recorded process only when its start token matches', () => {
    const started = processStartToken(sleeper.pid!);
    const pid = sleeper.pid!;
    expect(processAlive({ pid, host, started })).toBe(true);
    expect(processAlive({ pid, host, started: `${started}0` })).toBe(false); // the pid was reused
    expect(processAlive({ pid, host })).toBe(true); // a record from before tokens: pid alone
    expect(processAlive({ pid, host, started: null })).toBe(true);
    // This process's own pid, recorded by an earlier process (a restarted container): not this process.
    expect(processAlive(THIS_PROCESS)).toBe(true);
    expect(processAlive({ ...THIS_PROCESS, started: `${THIS_PROCESS.started}0` })).toBe(false);
    expect(isThisProcess({ ...THIS_PROCESS, started: `${THIS_PROCESS.started}0` })).toBe(false);
    expect(isThisProcess({ pid: process.pid, host })).toBe(true);
    expect(processAlive({ pid: process.pid, host, started: null })).toBe(true);
  });

  it.runIf(onLinux)('judges a zombie dead: it has exited, though its parent has not collected it yet', async () => {
    // A short sleep backgrounded, then its parent becomes `sleep 60`, which never waits for it: a zombie once it
    // ends (half a second, so the shell has exec'd by then: a shell would collect it itself).
    const parent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
      const state = () => parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.state;
      for (let i = 0; i < 200 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(state()).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow(); // what the pid check alone saw
      expect(processAlive({ pid, host })).toBe(false);
      if (hasPs) expect(psStatus(pid)?.state).toBe('Z'); // as macOS would see it
    } finally {
      parent.kill();
    }
  });

  it('judges no pid dead, a dead pid dead, and leaves another host alone', () => {
    const dead = spawnSync('true').pid!;
    expect(processAlive({ pid: null, host })).toBe(false);
    expect(processAlive({ pid: dead, host })).toBe(false);
    expect(processAlive({ pid: dead, host, started: 'whatever:1' })).toBe(false);
    expect(processAlive({ pid: dead, host: `not-${host}`, started: 'whatever:1' })).toBe(true);
    expect(isThisProcess({ ...THIS_PROCESS, host: `not-${host}` })).toBe(false);
  });

  it("takes a pid that kill(pid, 0) may not signal for a live process: EPERM on POSIX, EACCES on Windows (an elevated one's)", () => {
    expect(killSaysAlive('EPERM')).toBe(true);
    expect(killSaysAlive('EACCES')).toBe(true);
    expect(killSaysAlive('ESRCH')).toBe(false);
    expect(killSaysAlive(undefined)).toBe(false);
  });
});
