/**
 * Which process writes a run (or holds a run folder), recorded so that another process can tell whether it is
 * still alive. A pid alone cannot: once its process dies the kernel hands the pid out again, and a container
 * restarted under the same pid would take a dead run for its own. So beside the pid we keep a start token that
 * names one process for the life of the machine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** A process as a run row or run folder records it. */
export interface Owner {
  pid: number;
  host: string;
  /** Its start token (processStartToken); null where none can be read, absent in records written before tokens. */
  started?: string | null;
}

/** An owner as read back from a record: a run row's owner columns are null once the run has ended. */
export interface OwnerRecord {
  pid: number | null;
  host: string | null;
  started?: string | null;
}

/**
 * Fields 3 (state: R, S, Z for a zombie, …) and 22 (starttime: clock ticks after boot) of a /proc/<pid>/stat
 * line, or null if the line has not that many. Field 2 is the command name in parentheses, which may itself hold
 * spaces and ')': the fields are counted after the last ')'.
 */
export function parseStat(stat: string): { state: string; startTime: string } | null {
  const end = stat.lastIndexOf(')');
  if (end < 0) return null;
  const fields = stat.slice(end + 1).trim().split(/\s+/); // from field 3 (state) on
  const startTime = fields[22 - 3];
  return startTime !== undefined && /^\d+$/.test(startTime) ? { state: fields[0], startTime } : null;
}

let bootId: string | null | undefined;

function readBootId(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

/** What identifies a live process: its state (Z: a zombie) and its start token (null when it cannot be read). */
interface ProcessStatus {
  state: string;
  token: string | null;
}

/** Linux: /proc/<pid>/stat's state and `${boot_id}:${starttime}` (clock ticks after boot); null: no such process. */
function procStatus(pid: number): ProcessStatus | null {
  let stat: ReturnType<typeof parseStat>;
  try {
    stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
  const boot = stat && readBootId();
  return stat && { state: stat.state, token: boot ? `${boot}:${stat.startTime}` : null };
}

/**
 * `ps -o lstart=,stat=` output: the start date and time (to the second, e.g. "Tue Nov 24 21:37:16 2026") then the
 * state letters ("Ss", "Z"). The token is the start time, an absolute date: unique enough across boots too.
 */
export function parsePsLine(line: string): ProcessStatus | null {
  const m = /^\s*(\S.*\S)\s+(\S+)\s*$/.exec(line);
  return m ? { state: m[2][0], token: `ps:${m[1].replace(/\s+/g, ' ')}` } : null;
}

/** macOS and the BSDs (no /proc): one `ps` child per check, in the C locale so the date reads the same each time. */
export function psStatus(pid: number): ProcessStatus | null {
  const ps = spawnSync('ps', ['-o', 'lstart=,stat=', '-p', String(pid)], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    timeout: 5000,
  });
  return ps.status === 0 ? parsePsLine(ps.stdout.split('\n')[0]) : null;
}

/** Null: no such process, or a system where none of it can be read (Windows: judged by pid alone). */
function readStatus(pid: number): ProcessStatus | null {
  if (process.platform === 'linux') return procStatus(pid);
  if (process.platform === 'win32') return null;
  return psStatus(pid);
}

/**
 * A token for a process on this machine: the same for one process however often it is asked, different for any
 * other process that has or will have its pid. Linux: `${boot_id}:${starttime}`; macOS and the BSDs: `ps:` and its
 * start time to the second. Null where it cannot be read: the process is gone, or the system is Windows.
 */
export function processStartToken(pid: number): string | null {
  return readStatus(pid)?.token ?? null;
}

/** This process: the one place that describes it to the store and to run folders. */
export const THIS_PROCESS: Owner = { pid: process.pid, host: hostname(), started: processStartToken(process.pid) };

/** Tokens disagree only when both are known: a record without one (older, or not Linux) is judged by pid alone. */
const tokensAgree = (a: string | null | undefined, b: string | null | undefined) => a == null || b == null || a === b;

/** Whether a record names this process (not an earlier one that had its pid, as in a restarted container). */
export function isThisProcess(owner: OwnerRecord): boolean {
  return owner.pid === THIS_PROCESS.pid && owner.host === THIS_PROCESS.host && tokensAgree(owner.started, THIS_PROCESS.started);
}

/**
 * Whether `kill(pid, 0)` failing with this code still means a process has the pid: EPERM on POSIX (another user's
 * process); on Windows libuv reports OpenProcess's ERROR_ACCESS_DENIED as EACCES (an elevated process seen from a
 * normal terminal), which must not make a live run look dead and be resumed twice. ESRCH: no such process.
 */
export function killSaysAlive(code: string | undefined): boolean {
  return code === 'EPERM' || code === 'EACCES';
}

/**
 * Whether a recorded owner is still alive. No pid: nobody owns it. Another host's process is not ours to judge
 * (the file is shared): alive. This process's pid: alive if the token is ours (else an earlier process that had
 * our pid, as in a restarted container). Any other pid: alive if a process has it (EPERM/EACCES: it exists,
 * another user's) and it is the recorded one, i.e. its token matches (or one of the two tokens cannot be known).
 */
export function processAlive(owner: OwnerRecord): boolean {
  const { pid, host, started } = owner;
  if (pid === null) return false;
  if (host !== THIS_PROCESS.host) return true;
  if (pid === THIS_PROCESS.pid) return isThisProcess(owner);
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (!killSaysAlive((e as NodeJS.ErrnoException).code)) return false;
  }
  const status = readStatus(pid);
  // A zombie (exited, its parent has not yet collected it) still answers kill(pid, 0), but writes nothing more.
  if (status?.state === 'Z') return false;
  if (started == null) return true;
  const current = status?.token ?? null;
  return current === null || current === started; // unreadable (/proc mounted hidepid, say): judged by pid alone
}

/**
 * Whether a recorded owner is alive beyond doubt: on this machine, with a start token recorded and the process with
 * its pid bearing the same one now (not merely a pid something answers to, as Windows judges). What `runs resume
 * --force` must never take over.
 */
export function provablyAlive(owner: OwnerRecord): boolean {
  const { pid, host, started } = owner;
  if (pid === null || host !== THIS_PROCESS.host || started == null) return false;
  return pid === THIS_PROCESS.pid ? isThisProcess(owner) : processStartToken(pid) === started;
}
