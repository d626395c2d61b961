/**
 * A training process whose parent dies (the CLI killed with SIGKILL, so it has no chance to stop it) ends at
 * once, not after the batch it is in: the parent kept its store and files, and nobody hears its work any more.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../train/fixtures';

/** Pids of the processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // Fields after the command name (which may hold spaces), the second is the parent pid.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    // A zombie (dead, not yet reaped by its new parent) counts as gone.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.runIf(process.platform === 'linux')('a training process whose CLI is killed', () => {
  it('ends within a fraction of its batch', async () => {
    const env = { ...process.env, ODELAB_DATA_DIR: tempDir(), ODELAB_DB: join(tempDir(), 'lab.db') };
    // Batches of a few seconds (20 Euler steps of 300 images), so that mid-batch is a long time.
    const args = ['train', '--model', 'shapes-odenet', '--dataset', 'shapes', '--method', 'euler', '--step-size', '0.05',
      '--batch-size', '300', '--train-size', '900', '--epochs', '1', '--json'];
    const cli = spawn(process.execPath, ['bin/odelab.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let trainer: number | undefined;
    let batchSeconds = 0;
    let killedAt = 0;
    for await (const line of createInterface({ input: cli.stdout })) {
      const event = JSON.parse(line) as { event: string; seconds?: number };
      if (event.event !== 'batch') continue;
      // Batch 2 has just begun: kill the CLI the way nothing can catch.
      batchSeconds = event.seconds!;
      [trainer] = childrenOf(cli.pid!);
      killedAt = performance.now();
      cli.kill('SIGKILL');
      break;
    }
    expect(trainer).toBeDefined();
    while (alive(trainer!) && performance.now() - killedAt < 30_000) await new Promise((r) => setTimeout(r, 50));
    const survived = (performance.now() - killedAt) / 1000;
    // The orphan used to finish its batch (measured: 8 s for an implicit-Euler preset batch); now the watch ends it
    // within its 0.25 s poll.
    expect(alive(trainer!)).toBe(false);
    expect(survived, `batch of ${batchSeconds.toFixed(2)} s`).toBeLessThan(Math.min(1.5, batchSeconds / 2));
  }, 60_000);
});
