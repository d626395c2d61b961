/**
 * How much of the machine other processes used while a benchmark ran: machine-wide busy CPU time (/proc/stat,
 * Linux) minus this process's own (all its threads). Timings on a shared 2-core machine mean little without it.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  wall: number;
  machineBusy: number | null;
  own: number;
}

function machineBusySeconds(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / 100; // USER_HZ ticks
  } catch {
    return null;
  }
}

export function cpuSnapshot(): Snapshot {
  const { user, system } = process.cpuUsage();
  return { wall: performance.now() / 1000, machineBusy: machineBusySeconds(), own: (user + system) / 1e6 };
}

/** Average cores used by this process and by everything else between two snapshots. */
export function cpuSince(start: Snapshot): { ownCores: number; otherCores: number | null; seconds: number } {
  const end = cpuSnapshot();
  const seconds = end.wall - start.wall;
  const own = end.own - start.own;
  const busy = end.machineBusy !== null && start.machineBusy !== null ? end.machineBusy - start.machineBusy : null;
  const round = (v: number) => Number(v.toFixed(2));
  return { ownCores: round(own / seconds), otherCores: busy === null ? null : round(Math.max(0, busy - own) / seconds), seconds: round(seconds) };
}
