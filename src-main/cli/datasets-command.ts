/** `odelab datasets list | fetch | import | generate`. */
import { Command, Option } from 'commander';
import { IDX_DATASETS, importDataset, loadDataset, defaultDataDir, type DataProgress } from '../data';
import { IdxDatasetKinds } from '../../src-shared/config';
import { int, num } from './option-parsers';

const progress = (p: DataProgress) => process.stderr.write(JSON.stringify(p) + '\n');

export function datasetsCommand(): Command {
  const cmd = new Command('datasets').description('find, fetch, import or generate datasets');
  cmd
    .command('list')
    .description('the datasets the lab knows, and where each would come from')
    .option('--data-dir <dir>', 'dataset directory')
    .option('--json', 'JSON output')
    .action((opts: { dataDir?: string; json?: boolean }) => {
      const rows = [
        ...Object.values(IDX_DATASETS).map((d) => ({ kind: d.kind, classes: d.classes })),
        { kind: 'shapes', classes: ['single: triangle, circle, rectangle', 'compound: 7 classes'] },
      ];
      const dir = opts.dataDir ?? defaultDataDir();
      if (opts.json) process.stdout.write(JSON.stringify({ dataDir: dir, datasets: rows }, null, 2) + '\n');
      else process.stdout.write(`data directory: ${dir}\n` + rows.map((r) => `${r.kind.padEnd(14)} ${r.classes.join(', ')}`).join('\n') + '\n');
    });
  cmd
    .command('fetch')
    .description('make MNIST or Fashion-MNIST available (data dir, system copy, else download with checksums)')
    .addArgument(new Command().createArgument('<kind>', 'dataset').choices([...IdxDatasetKinds]))
    .option('--data-dir <dir>', 'dataset directory')
    .action(async (kind: (typeof IdxDatasetKinds)[number], opts: { dataDir?: string }) => {
      const d = await loadDataset(kind === 'mnist' ? { kind } : { kind }, { dataDir: opts.dataDir, onProgress: progress });
      process.stdout.write(JSON.stringify({ kind, source: d.source, train: d.train.labels.length, test: d.test.labels.length }) + '\n');
    });
  cmd
    .command('import')
    .description('validate a folder of the four IDX files (gz or raw) and copy it into the data directory')
    .addArgument(new Command().createArgument('<kind>', 'dataset').choices([...IdxDatasetKinds]))
    .argument('<folder>', 'folder with train/t10k images and labels')
    .option('--data-dir <dir>', 'dataset directory')
    .action(async (kind: (typeof IdxDatasetKinds)[number], folder: string, opts: { dataDir?: string }) => {
      const result = await importDataset(kind, folder, { dataDir: opts.dataDir });
      process.stdout.write(JSON.stringify(result) + '\n');
    });
  cmd
    .command('generate')
    .description('generate (and cache) a synthetic shapes dataset')
    .addOption(new Option('--mode <mode>', 'single or compound').choices(['single', 'compound']).default('compound'))
    .option('--train-count <n>', 'training images', int)
    .option('--test-count <n>', 'test images', int)
    .option('--seed <n>', 'seed', int)
    .option('--image-size <n>', 'image size in pixels', int)
    .option('--noise <x>', 'pixel noise level (0–1)', num)
    .option('--data-dir <dir>', 'dataset directory')
    .action(async (opts: { mode: 'single' | 'compound'; trainCount?: number; testCount?: number; seed?: number; imageSize?: number; noise?: number; dataDir?: string }) => {
      const { dataDir, ...params } = opts;
      const d = await loadDataset({ kind: 'shapes', ...params }, { dataDir, onProgress: progress });
      process.stdout.write(JSON.stringify({ source: d.source, classes: d.classes, train: d.train.labels.length, test: d.test.labels.length }) + '\n');
    });
  return cmd;
}
