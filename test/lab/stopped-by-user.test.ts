/** Telling a training process the user stopped from one that crashed, by how it died, on POSIX and on Windows. */
import { describe, expect, it } from 'vitest';
import { stoppedByUser, TERMINAL_SIGNALS } from '../../src-main/lab/protocol';

const CTRL_C_EXIT = 0xc000013a; // Windows: a console process ended by Ctrl-C or Ctrl-Break

describe('stoppedByUser', () => {
  it('counts a process the user killed as stopped by them, however it died', () => {
    for (const exit of [{ code: null, signal: 'SIGKILL' as const }, { code: 1, signal: null }]) {
      expect(stoppedByUser({ killed: true, cancelled: false }, exit, 'linux')).toBe(true);
      expect(stoppedByUser({ killed: true, cancelled: true }, exit, 'win32')).toBe(true);
    }
  });

  it("after a cancel, counts a death by the terminal's signal (POSIX) or by Windows' Ctrl-C exit code", () => {
    const cancelled = { killed: false, cancelled: true };
    for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) expect(stoppedByUser(cancelled, { code: null, signal }, 'linux')).toBe(true);
    expect(stoppedByUser(cancelled, { code: CTRL_C_EXIT, signal: null }, 'win32')).toBe(true);
    expect(TERMINAL_SIGNALS).toContain('SIGBREAK'); // Ctrl-Break: ignored by the training process too
  });

  it('calls anything else a crash: no cancel, another signal, another exit code, the Windows code elsewhere', () => {
    expect(stoppedByUser({ killed: false, cancelled: false }, { code: null, signal: 'SIGINT' }, 'linux')).toBe(false);
    expect(stoppedByUser({ killed: false, cancelled: false }, { code: CTRL_C_EXIT, signal: null }, 'win32')).toBe(false);
    const cancelled = { killed: false, cancelled: true };
    expect(stoppedByUser(cancelled, { code: null, signal: 'SIGSEGV' }, 'linux')).toBe(false);
    expect(stoppedByUser(cancelled, { code: 1, signal: null }, 'win32')).toBe(false);
    expect(stoppedByUser(cancelled, { code: CTRL_C_EXIT, signal: null }, 'linux')).toBe(false);
  });
});
