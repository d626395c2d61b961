/**
 * What recording a run in the run store costs the training: a real run (LabService → training process → RunWriter →
 * SQLite, WAL) and the seconds the writer spent in the database, against the run's wall time. JSON on stdout
 * (and bench/results/recording-<preset>.json).
 *
 *   npx tsx bench/recording.ts [--preset shapes-euler] [--epochs 1] [--train-size N]
 *
 * Target: storing costs under 2% of the training's time. The writer runs in the parent process, so its work
 * competes for a core with training only on a machine as small as this one (2 cores).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LabService } from '../src-main/lab/lab-service';
import { openStore } from '../src-main/store';
import { PRESETS } from '../src-shared/presets';
import { RunConfig } from '../src-shared/run-config';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'shapes-euler' },
    epochs: { type: 'string', default: '1' },
    'train-size': { type: 'string' },
  },
});
const preset = PRESETS[values.preset];
if (!preset) throw new Error(`--preset: one of ${Object.keys(PRESETS).join(', ')}`);
const config = RunConfig.parse({
  ...preset.config,
  epochs: Number(values.epochs),
  ...(values['train-size'] ? { trainSize: Number(values['train-size']) } : {}),
});

const store = openStore(join(mkdtempSync(join(tmpdir(), 'odelab-bench-')), 'lab.db'));
const service = new LabService(store);
const dataDir = join(tmpdir(), 'odelab-bench-data');
const run = service.startRun(config, { dataDir });
let batches = 0;
run.handle.events.on('event', (e: { event: string }) => (batches += e.event === 'batch' ? 1 : 0));
const ended = await run.handle.done;
const rows = store.db.prepare('SELECT count(*) FROM batch_metrics').pluck().get() as number;
const result = {
  preset: values.preset,
  epochs: config.epochs,
  status: ended.status,
  batches,
  batchRowsStored: rows,
  runSeconds: ended.seconds,
  storeSeconds: run.writer.storeSeconds,
  storeShare: run.writer.storeSeconds / ended.seconds,
  storeMillisecondsPerBatch: (1000 * run.writer.storeSeconds) / Math.max(1, batches),
  target: 'storeShare < 0.02',
};
store.close();
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/recording-${values.preset}.json`, JSON.stringify(result, null, 2));
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
