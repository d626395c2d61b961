/**
 * `odelab train --test-size N` as a user runs it (real processes, a real tiny run): refused before a store file is
 * made when the dataset will not have N test images; recorded in the run's config (runs show, runs diff), scored
 * on N images each epoch, and kept by a run started from its checkpoint unless the flag changes it.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectFailure, runOdelab } from './odelab-process';
import { tempDir } from '../train/fixtures';
import { tinyDatasetFiles, writeDataset } from '../data/fixtures';
import { importDataset } from '../../src-main/data';

const dataDir = tempDir();
const odelabEnv = { ...process.env, ODELAB_DATA_DIR: dataDir, ODELAB_DB: join(tempDir(), 'default.db') };
const odelab = (...args: string[]) => runOdelab(odelabEnv, args);

/** A small shapes dataset: 120 training and 70 test images, quick to generate and score. */
const datasetConfig = join(tempDir(), 'dataset.json');
writeFileSync(datasetConfig, JSON.stringify({ dataset: { kind: 'shapes', mode: 'compound', trainCount: 120, testCount: 70 } }));
const tinyRun = ['--model', 'shapes-odenet', '--method', 'euler', '--step-size', '0.25', '--config', datasetConfig, '--batch-size', '60', '--lr', '0.003', '--seed', '4'];

const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('odelab train --test-size', () => {
  it('refuses more test images than the dataset will have, exit 2 naming the field, before a store file is made', async () => {
    const neverMade = join(tempDir(), 'never.db');
    expectFailure(odelab('train', '--preset', 'shapes-euler', '--test-size', '6001', '--db', neverMade), 2, /^INVALID_ARGUMENT: testSize 6001 is more than the 6000 test images of this shapes dataset\n$/);
    expectFailure(odelab('train', '--preset', 'mnist-odenet', '--test-size', '10001', '--db', neverMade), 2, /testSize 10001 is more than the 10000 test images of this mnist dataset\n$/);
    expectFailure(odelab('train', ...tinyRun, '--test-size', '71', '--db', neverMade), 2, /testSize 71 is more than the 70 test images of this shapes dataset/);
    expectFailure(odelab('train', '--preset', 'shapes-euler', '--test-size', '0', '--db', neverMade), 2, /^testSize: /m);
    // A dataset of the user's own under MNIST's name: its test labels' count, and the copy named.
    const [own, ownDataDir] = [tempDir(), tempDir()];
    await writeDataset(own, tinyDatasetFiles(30, 20));
    await importDataset('mnist', own, { dataDir: ownDataDir, allowCustom: true });
    expectFailure(
      odelab('train', '--model', 'mlp', '--dataset', 'mnist', '--test-size', '21', '--data-dir', ownDataDir, '--db', neverMade),
      2,
      new RegExp(`testSize 21 is more than the 20 test images of this mnist dataset \\(the copy in ${join(ownDataDir, 'mnist')}: a dataset of your own, imported with --force\\)`),
    );
    expect(existsSync(neverMade)).toBe(false);
  });

  it('scores each epoch on N test images, records it in the config, and a run from its checkpoint keeps it unless changed', () => {
    const db = join(tempDir(), 'lab.db');
    const out = join(tempDir(), 'run');
    const r = odelab('train', ...tinyRun, '--epochs', '1', '--test-size', '35', '--out', out, '--db', db, '--json');
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    const runId = events[0].runId as number;
    expect(events[0]).toMatchObject({ event: 'started', trainSize: 120, testSize: 35 });
    const epoch = events.find((e) => e.event === 'epoch')!;
    expect((epoch.confusion as number[][]).flat().reduce((a, b) => a + b)).toBe(35);
    expect((epoch.misclassified as number[]).every((i) => Number.isInteger(i) && i >= 0 && i < 70)).toBe(true);

    const show = odelab('runs', 'show', String(runId), '--db', db, '--json');
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown).toMatchObject({ testSize: 35, config: { testSize: 35 } });
    expect(shown.epochs[0].testAccuracy).toBe(epoch.testAccuracy);
    expect(odelab('runs', 'show', String(runId), '--db', db).stdout).toContain('"testSize":35');

    // From its checkpoint: the config comes with it, testSize included; a flag changes it, and runs diff shows it.
    const checkpoint = join(out, 'checkpoints', readdirSync(join(out, 'checkpoints'))[0]);
    const kept = odelab('train', '--resume', checkpoint, '--epochs', '2', '--db', db, '--data-dir', dataDir, '--json');
    expect(kept.code, kept.stderr).toBe(0);
    expect(jsonLines(kept.stdout)[0]).toMatchObject({ event: 'started', testSize: 35, config: { testSize: 35 } });
    const changed = odelab('train', '--resume', checkpoint, '--epochs', '2', '--test-size', '14', '--db', db, '--json');
    expect(changed.code, changed.stderr).toBe(0);
    const changedEvents = jsonLines(changed.stdout);
    expect(changedEvents[0]).toMatchObject({ testSize: 14 });
    const diff = odelab('runs', 'diff', String(runId), String(changedEvents[0].runId), '--db', db, '--json');
    expect(JSON.parse(diff.stdout)).toEqual([
      { path: 'epochs', values: [1, 2] },
      { path: 'testSize', values: [35, 14] },
    ]);
  });
});
