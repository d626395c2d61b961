/**
 * `odelab runs (list|show|diff|series|tag|delete|export|import|resume|cancel)` and `odelab db check`: the run store from
 * the command line. `--json` prints one JSON document, indented, as `models`, `presets` and `eval` do.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { lstat, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeError, isLabError, LabError } from '../../src-shared/errors';
import { STORED_RUN_STATUSES, type RunSummary, type ResumePointAt, type ResumePointInfo, type StartedFrom, type StoredRunStatus } from '../../src-shared/run-record';
import { MODEL_NAMES, solvedMethod } from '../../src-shared/run-config';
import { METHOD_NAMES } from '../../src-shared/solvers';
import {
  configDiff,
  deleteRun,
  exportCsv,
  type CsvTable,
  exportRuns,
  exportStudy,
  getRun,
  importExportDocument,
  integrityCheck,
  isDamagedStoreError,
  loadCheckpoint,
  checkStoredCheckpoints,
  checkStoredResumePoints,
  parseExportDocument,
  listRuns,
  resumePointsAt,
  runSetups,
  SCHEMA_VERSION,
  setNotes,
  setTags,
  getStudy,
  BATCH_METRICS,
  EPOCH_METRICS,
  batchSeries,
  epochSeries,
  type BatchMetric,
  type EpochMetric,
  type ExportDocument,
  type SeriesAxis,
  type RunStore,
  type Db,
} from '../store';
import { writeFileAtomic, writeNewFileAtomic } from '../data/fsAtomic';
import { followRun, launchOptions, type LaunchFlags } from './train-command';
import { dbOption, withService, withStore } from './store-options';
import { jsonOption, printJson } from './json-output';
import { EXIT } from './exit-codes';
import { int, names, nonEmpty, positiveInt, runIds } from './option-parsers';
import { cancelCommand } from './cancel-command';
import { fileProblem, readFileArgument, textOf } from './file-arguments';
import { setupFields, setupOfDetail, type SetupFields } from './run-setup';
import { float32Text } from './number-text';

/** Every command but import works on a store that exists. */
const STORE_HELP = `
Run store: --db <file>, else $ODELAB_DB, else lab.db in the lab's app-data folder. Every command here except
import refuses a store file that does not exist (NOT_FOUND naming the path) rather than create an empty one;
the lab's default store does not exist until the first run is recorded, and until then runs list shows no runs.`;

/** M4 keeps up to four points (first, last, min, max) per group, so fewer than four cannot be asked for. */
const MIN_POINTS = 4;
function points(v: string): number {
  const n = int(v);
  if (n < MIN_POINTS) throw new InvalidArgumentError(`expected an integer of at least ${MIN_POINTS}, got '${v}'`);
  return n;
}

const pct = (x: number | undefined | null) => (x === undefined || x === null ? '—' : `${(100 * x).toFixed(2)}%`);
/** Losses are null where they were not finite (a diverged model). */
const fixed = (x: number | null, digits = 4) => (x === null ? 'NaN' : x.toFixed(digits));

/** A name on one line of a listing: control characters (a newline in a --config name) shown escaped. */
const oneLine = (name: string) =>
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  name.replace(/[\u0000-\u001f\u007f]/g, (c) => ({ '\n': '\\n', '\t': '\\t', '\r': '\\r' })[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Set on a listed run whose config trains on a subset (trainSize): its training images are then shown. A symbol, so --json leaves it out. */
const TRAINS_ON_SUBSET = Symbol('trainsOnSubset');

/** A run as runs list (and studies show) prints it: its summary and what tells it apart in a sweep (run-setup.ts). */
/**
 * `method`: the ODE solver the model solves with (rknet: its RK4), null for a model without one (mlp, resnet).
 * `resumePoint`: where its resume point stands, if it has one (work past its last epoch that runs resume keeps).
 */
export type ListedRun = Omit<RunSummary, 'method'> & {
  method: string | null;
  resumePoint: ResumePointAt | null;
} & SetupFields & { [TRAINS_ON_SUBSET]?: boolean };

const UNKNOWN_SETUP: SetupFields = { stepSize: null, rtol: null, atol: null, gradient: null, blocks: null, trainSize: null, testSize: null, solverSummary: '?' };

/** Runs with their setup fields (solver settings, training images), read from their stored configs. */
export function describeRuns(db: Db, runs: readonly RunSummary[]): ListedRun[] {
  const ids = runs.map((r) => r.id);
  const setups = runSetups(db, ids);
  const points = resumePointsAt(db, ids);
  return runs.map((r) => {
    const setup = setups.get(r.id);
    // Absent only for a run deleted between the two reads.
    // rknet's method is its RK4, whatever a run stored before its config said so; mlp and resnet store one they ignore.
    const method = solvedMethod(r.model, r.method) ?? null;
    return { ...r, method, resumePoint: points.get(r.id) ?? null, ...(setup ? setupFields(setup) : UNKNOWN_SETUP), [TRAINS_ON_SUBSET]: setup?.trainSize != null };
  });
}

/** The training images, in the listing of runs of which one (at least) trains on a subset. */
const trainCell = (r: ListedRun) => (r.trainSize === null ? '' : `n=${r.trainSize}`);

/**
 * The runs as a table without a header (studies show prints these lines under its own), each column as wide as its
 * widest cell here and the name last, whatever its length. Some columns appear only where they tell runs apart: the
 * model when the runs listed are of more than one (or `model`), the training images when one of them trains on a
 * subset, the seed when they have more than one (a seed sweep's runs differ in nothing else), the test images when
 * one of them scores a subset (--test-size). A sweep of one model (names of up to 20 characters, ids up to 999) then
 * fits in 100 columns.
 */
function runLines(runs: readonly ListedRun[], { model = false } = {}): string[] {
  const showModel = model || new Set(runs.map((r) => r.model)).size > 1;
  const showTrain = runs.some((r) => r[TRAINS_ON_SUBSET]);
  const showSeed = new Set(runs.map((r) => r.seed)).size > 1;
  // Test accuracies over a subset are not those over the whole split: said beside them when a listed run has one.
  const showTest = runs.some((r) => r.testSize !== null);
  const rows = runs.map((r) => [
    String(r.id),
    r.status,
    ...(showModel ? [r.model] : []),
    r.solverSummary,
    ...(showTrain ? [trainCell(r)] : []),
    ...(showSeed ? [`seed ${r.seed}`] : []),
    // A resume point's batches of the next epoch, which the epochs completed do not count.
    `ep ${r.epochsCompleted}${r.resumePoint ? ` +${r.resumePoint.batch} batches` : ''}`,
    ...(showTest ? [r.testSize === null ? 'all test' : `test n=${r.testSize}`] : []),
    `test ${pct(r.final?.testAccuracy)}`,
    `best ${pct(r.best?.testAccuracy)}`,
    `${r.wallSeconds.toFixed(0)} s`,
    oneLine(r.name),
  ]);
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => row[c].length))) ?? [];
  const last = widths.length - 1;
  // Numbers (the id, the wall time) right-aligned; the name unpadded.
  const alignRight = new Set([0, last - 1]);
  return rows.map((row) => row.map((cell, c) => (c === last ? cell : alignRight.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' '));
}

function startedFromLine(from: StartedFrom, parentId: number | null): string {
  const whose = parentId === null ? 'not written by a run of this store' : `written by run ${parentId}`;
  const at = from.batch === undefined ? `epoch ${from.epoch}` : `a resume point inside epoch ${from.epoch + 1}, after batch ${from.batch}`;
  return `started from ${from.file} (${at}, step ${from.step}; sha256 ${from.sha256.slice(0, 16)}…; ${whose})`;
}

/** Where a run's resume point stands: what runs resume continues from (it is later than the last epoch's checkpoint). */
function resumePointLine(p: ResumePointInfo, batchesPerEpoch: number | null): string {
  const of = batchesPerEpoch === null ? '' : ` of ${batchesPerEpoch}`;
  return `resume point: epoch ${p.epoch}, batch ${p.batch}${of} (step ${p.step}, ${p.wallSeconds.toFixed(0)} s into the run, engine start-up included), saved ${p.createdAt}; runs resume continues from it`;
}

/** A run's tags and notes as text lines (notes' own line breaks kept, indented under the first); '—' when unset. */
function tagsAndNotesLines(run: { tags: string[]; notes: string }): { tags: string; notes: string } {
  return { tags: `tags: ${run.tags.join(', ') || '—'}`, notes: `notes: ${run.notes.replace(/\r?\n/g, '\n       ') || '—'}` };
}

async function output(text: string, out: string | undefined, replace: boolean): Promise<void> {
  if (!out) {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    return;
  }
  await writeOut(out, text, { replace });
}

/**
 * Writes an --out file (runs export, runs checkpoint) whole or not at all: the data goes to a temporary file beside
 * it, which then takes the name. With `replace` false an existing file is refused (--force replaces it), and the
 * check is the publishing itself (a hard link, which fails if the name exists), so a file made meanwhile is not
 * overwritten either.
 */
async function writeOut(out: string, data: string | Uint8Array, { replace }: { replace: boolean }): Promise<void> {
  try {
    // Through a symbolic link to the file it names, as a plain write would: renaming over the link would replace it.
    if (replace) await writeFileAtomic(await throughLinks(out), data);
    else await writeNewFileAtomic(out, data);
  } catch (e) {
    const { code } = e as NodeJS.ErrnoException;
    // The temporary file's name is not the user's: errors name --out's path.
    let why = fileProblem(e);
    if (code === 'EEXIST') why = (await isFolder(out)) ? fileProblem({ code: 'EISDIR' }) : 'it exists (--force replaces it)';
    throw new LabError('INVALID_ARGUMENT', `--out: cannot write ${out}: ${why}`, { field: 'out', path: out, errno: code });
  }
}

/** The file `path` names: itself, or what its symbolic links lead to (ENOENT when a link dangles). */
async function throughLinks(path: string): Promise<string> {
  const isLink = await lstat(path).then((s) => s.isSymbolicLink(), () => false);
  return isLink ? realpath(path) : path;
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Prints listed runs (describeRuns): --json as they are, else one line each. */
export function printRuns(runs: ListedRun[], json: boolean | undefined): void {
  if (json) printJson(runs);
  else process.stdout.write(runLines(runs).join('\n') + (runs.length ? '\n' : 'no runs\n'));
}

function listCommand(): Command {
  return new Command('list')
    .description('list runs, newest first, with final and best test accuracy')
    .addOption(new Option('--status <status...>', 'only runs with these statuses').choices([...STORED_RUN_STATUSES]))
    .option('--tag <tag>', 'only runs with this tag', nonEmpty)
    .option('--study <name>', 'only the runs of this study', nonEmpty)
    .addOption(new Option('--model <name>', 'only runs of this model').choices([...MODEL_NAMES]))
    .addOption(new Option('--method <name>', "only runs whose ODE block this solver method solves (rk4: rknet's too)").choices([...METHOD_NAMES]))
    .option('--limit <n>', 'at most n runs', positiveInt)
    .addOption(dbOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nEach run: id, status, model (when the runs listed are of more than one), solver (method with its step size h\n' +
        'or tolerances, adjoint if used; rknet: rk4×<blocks>; resnet: <n> blocks; mlp: —), training images (n=, when a run listed\n' +
        'trains on a subset), seed (when the runs listed have more than one), epochs, test images (test n=, when a\n' +
        'run listed scores a subset), final and best test accuracy, wall time, name. --json: each run carries its seed\n' +
        'and also stepSize, rtol, atol, gradient, trainSize (its training images), testSize (its test subset, null for\n' +
        'all) and solverSummary.',
    )
    .action((opts: { status?: StoredRunStatus[]; tag?: string; study?: string; model?: string; method?: string; limit?: number; db?: string; json?: boolean }) =>
      withStore(
        opts.db,
        (store) => {
          // One read transaction: the summaries and their configs' settings from the same state.
          const runs = store.db.transaction(() => {
            // The study's runs in the query, so --limit counts them, not the store's newest runs.
            const studyId = opts.study === undefined ? undefined : getStudy(store.db, opts.study).id;
            if (opts.method === undefined) return describeRuns(store.db, listRuns(store.db, { ...opts, studyId }));
            // By the method each model solves with (solvedMethod): mlp and resnet store one they do not use (the
            // schema's default), rknet's older runs one it ignored. Filtered here, so --limit counts only those listed.
            const all = listRuns(store.db, { ...opts, method: undefined, studyId, limit: undefined });
            const solved = all.filter((r) => solvedMethod(r.model, r.method) === opts.method);
            return describeRuns(store.db, solved.slice(0, opts.limit));
          })();
          printRuns(runs, opts.json);
        },
        { existing: true, emptyIfDefaultAbsent: true },
      ),
    );
}

function showCommand(): Command {
  return new Command('show')
    .description('a run: config, status, error, tags and notes, checkpoints and per-epoch metrics')
    .argument('<id>', 'run id')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((id: string, opts: { db?: string; json?: boolean }) => {
      const [runId] = runIds([id]);
      return withStore(opts.db, (store) => {
        const run = getRun(store.db, runId);
        const epochs = store.db
          .prepare('SELECT epoch, loss, accuracy, test_loss AS testLoss, test_accuracy AS testAccuracy, nfe_forward_mean AS nfeForwardMean, nfe_backward_mean AS nfeBackwardMean, seconds FROM epoch_metrics WHERE run_id = ? ORDER BY epoch')
          .all(runId) as { epoch: number; loss: number | null; accuracy: number; testLoss: number | null; testAccuracy: number; nfeForwardMean: number; nfeBackwardMean: number; seconds: number }[];
        // In-epoch evaluations (--eval-every), between the epochs' own.
        const evaluations = store.db
          .prepare('SELECT step, epoch, test_loss AS testLoss, test_accuracy AS testAccuracy, evaluated FROM evaluations WHERE run_id = ? ORDER BY step')
          .all(runId) as { step: number; epoch: number; testLoss: number; testAccuracy: number; evaluated: number }[];
        if (opts.json) {
          printJson({ ...run, epochs, evaluations });
          return;
        }
        const lines = [
          ...runLines([{ ...run, ...setupFields(setupOfDetail(run)), [TRAINS_ON_SUBSET]: run.config.trainSize !== undefined }], { model: true }),
          `created ${run.createdAt}${run.endedAt ? `, ended ${run.endedAt}` : ''}; backend ${run.backend ?? '—'}; ${run.parameterCount ?? '—'} parameters`,
          ...(run.error ? [describeError(run.error)] : []),
          // Only when set: most runs have neither, and runs tag shows both.
          ...(run.tags.length ? [tagsAndNotesLines(run).tags] : []),
          ...(run.notes ? [tagsAndNotesLines(run).notes] : []),
          ...epochs.map(
            (e) =>
              `  epoch ${e.epoch}: loss ${fixed(e.loss)} acc ${pct(e.accuracy)} | test loss ${fixed(e.testLoss)} acc ${pct(e.testAccuracy)} | NFE ${e.nfeForwardMean.toFixed(1)}/${e.nfeBackwardMean.toFixed(1)} | ${e.seconds.toFixed(1)} s`,
          ),
          ...(evaluations.length ? [`evaluations (--eval-every, ${evaluations[0].evaluated} test images each):`] : []),
          ...evaluations.map((v) => `  step ${v.step} (epoch ${v.epoch}): test loss ${fixed(v.testLoss)} acc ${pct(v.testAccuracy)}`),
          ...(run.startedFrom ? [startedFromLine(run.startedFrom, run.parentId)] : []),
          `checkpoints: ${run.checkpoints.map((c) => `epoch ${c.epoch}`).join(', ') || 'none'}`,
          ...(run.resumePoint ? [resumePointLine(run.resumePoint, run.batchesPerEpoch)] : []),
          ...(run.outDir ? [`files: ${run.outDir} (events.jsonl, checkpoints/)`] : []),
          ...(run.cancelRequested ? [`cancel requested (${run.cancelRequested === 'now' ? 'now' : 'after the current batch'})`] : []),
          `config: ${JSON.stringify(run.config)}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }, { existing: true });
    });
}

function diffCommand(): Command {
  return new Command('diff')
    .description('the config keys that differ between runs')
    .argument('<ids...>', 'two or more run ids')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((ids: string[], opts: { db?: string; json?: boolean }) => {
      const list = runIds(ids);
      if (list.length < 2) throw new LabError('INVALID_ARGUMENT', `runs diff compares two or more runs; give at least two run ids (got ${list.length})`, { field: 'ids' });
      return withStore(opts.db, (store) => {
        const runs = list.map((id) => getRun(store.db, id));
        const diff = configDiff(runs.map((r) => r.config as unknown as Record<string, unknown>));
        if (opts.json) printJson(diff);
        else process.stdout.write(diff.map((d) => `${d.path}: ${d.values.map((v) => JSON.stringify(v) ?? '—').join(' | ')}`).join('\n') + (diff.length ? '\n' : 'identical configs\n'));
      }, { existing: true });
    });
}

/**
 * --metric checked against --per-epoch before the store is read: a per-epoch metric asked per batch (testAccuracy
 * without --per-epoch) or the reverse says which flag it needs, not only which metrics the other kind has.
 */
function checkSeriesMetric(metric: string, perEpoch: boolean): void {
  const [batch, epoch] = [BATCH_METRICS as readonly string[], EPOCH_METRICS as readonly string[]];
  if ((perEpoch ? epoch : batch).includes(metric)) return;
  const [batchList, epochList] = [batch.join(', '), epoch.join(', ')];
  let message: string;
  if (!perEpoch && epoch.includes(metric)) message = `metric: ${metric} is a per-epoch metric: add --per-epoch (per-epoch metrics: ${epochList}; per batch: ${batchList})`;
  else if (perEpoch && batch.includes(metric)) message = `metric: ${metric} is a per-batch metric: drop --per-epoch (per-batch metrics: ${batchList}; per epoch: ${epochList})`;
  else if (perEpoch) message = `metric: expected one of ${epochList} (per epoch), got '${metric}'; without --per-epoch: ${batchList}`;
  else message = `metric: expected one of ${batchList} (per batch), got '${metric}'; with --per-epoch: ${epochList}`;
  throw new LabError('INVALID_ARGUMENT', message, { field: 'metric' });
}

function seriesCommand(): Command {
  return new Command('series')
    .description('a metric of several runs, downsampled to at most --points per run (keeps first, last, min and max)')
    .argument('<ids...>', 'run ids')
    .option('--metric <name>', `per-batch: ${BATCH_METRICS.join(', ')}; per-epoch (with --per-epoch): ${EPOCH_METRICS.join(', ')}`, 'loss')
    .option('--per-epoch', 'a per-epoch metric (default: per batch)')
    .addOption(new Option('--axis <axis>', 'x axis (default: step; with --per-epoch, epoch)').choices(['step', 'epoch', 'wall']))
    .option('--points <n>', `at most this many points per run (at least ${MIN_POINTS})`, points, 500)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((ids: string[], opts: { metric: string; perEpoch?: boolean; axis?: SeriesAxis; points: number; db?: string; json?: boolean }) => {
      const list = runIds(ids);
      checkSeriesMetric(opts.metric, !!opts.perEpoch);
      // Per epoch, x is the epoch unless asked otherwise (the store's default too); per batch, the step.
      const axis = opts.axis ?? (opts.perEpoch ? 'epoch' : 'step');
      return withStore(opts.db, (store) => {
        const { series, setups } = store.db.transaction(() => ({
          series: opts.perEpoch
            ? epochSeries(store.db, list, opts.metric as EpochMetric, { axis, maxPoints: opts.points })
            : batchSeries(store.db, list, opts.metric as BatchMetric, { axis, maxPoints: opts.points }),
          setups: runSetups(store.db, list),
        }))();
        // Each run named, with what sets it apart (as runs list shows it); series checked that every id exists.
        const labelled = series.map((s) => {
          const setup = setups.get(s.runId)!;
          const { solverSummary, trainSize } = setupFields(setup);
          return { runId: s.runId, name: setup.name, solverSummary, trainSize, points: s.points, totalPoints: s.totalPoints, subset: setup.trainSize !== null };
        });
        if (opts.json) {
          printJson(labelled.map(({ subset: _, ...s }) => s));
          return;
        }
        const per = opts.perEpoch ? 'per epoch' : 'per batch';
        process.stdout.write(
          labelled
            .map((s) => {
              const setup = [s.solverSummary, ...(s.subset ? [`n=${s.trainSize}`] : [])].join(', ');
              const header = `run ${s.runId} ${oneLine(s.name)} (${setup}): ${opts.metric} ${per}, ${s.points.length} of ${s.totalPoints} points`;
              // Read as float32 (0.3, not 0.30000001192092896); --json and runs export keep the stored values.
              return [header, `  ${axis}\t${opts.metric}`, ...s.points.map((p) => `  ${float32Text(p.x)}\t${float32Text(p.y)}`)].join('\n');
            })
            .join('\n') + '\n',
        );
      }, true);
    });
}

function tagCommand(): Command {
  return new Command('tag')
    .description("change a run's tags and notes, then print them")
    .argument('<id>', 'run id')
    .option('--add <tag...>', 'tags to add', names)
    .option('--remove <tag...>', 'tags to remove', names)
    .option('--notes <text>', 'replace the notes')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((id: string, opts: { add?: string[]; remove?: string[]; notes?: string; db?: string; json?: boolean }) => {
      const [runId] = runIds([id]);
      return withStore(opts.db, (store) => {
        const run = getRun(store.db, runId);
        const tags = [...run.tags, ...(opts.add ?? [])].filter((t) => !(opts.remove ?? []).includes(t));
        store.db.transaction(() => {
          setTags(store.db, runId, tags);
          if (opts.notes !== undefined) setNotes(store.db, runId, opts.notes);
        })();
        const after = getRun(store.db, runId);
        if (opts.json) printJson({ id: runId, tags: after.tags, notes: after.notes });
        else {
          const { tags, notes } = tagsAndNotesLines(after);
          process.stdout.write(`run ${runId}: ${tags}\n${notes}\n`);
        }
      }, { existing: true });
    });
}

function deleteCommand(): Command {
  return new Command('delete')
    .description('delete runs with their metrics and checkpoints')
    .argument('<ids...>', 'run ids')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((ids: string[], opts: { db?: string; json?: boolean }) => {
      const list = [...new Set(runIds(ids))];
      return withStore(opts.db, (store) => {
        // One transaction: an unknown or live run among them deletes nothing.
        store.db.transaction(() => list.forEach((id) => deleteRun(store.db, id))).immediate(); // reads, then deletes
        if (opts.json) printJson({ deleted: list });
        else process.stdout.write(`deleted ${list.length} run(s): ${list.join(', ')}\n`);
      }, { existing: true });
    });
}

function exportCommand(): Command {
  return new Command('export')
    .description('export runs (or a study) as JSON (config, metrics, confusion matrices; checkpoints optional) or CSV metrics')
    .argument('[ids...]', 'run ids')
    .option('--study <name>', 'export this study and its runs', nonEmpty)
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'))
    .addOption(new Option('--table <table>', 'CSV: which metrics (default epoch; evaluation: the --eval-every scores)').choices(['batch', 'epoch', 'evaluation']))
    .option('--checkpoints', 'JSON: include checkpoint blobs (base64)')
    .option('--out <file>', 'write here instead of stdout (refused if it exists, unless --force)')
    .option('--force', 'replace the --out file if it exists')
    .addOption(dbOption())
    .action((ids: string[], opts: { study?: string; format: 'json' | 'csv'; table?: CsvTable; checkpoints?: boolean; out?: string; force?: boolean; db?: string }) => {
      if (!opts.study && ids.length === 0) throw new LabError('INVALID_ARGUMENT', 'give run ids or --study <name>', { field: 'ids' });
      if (opts.force && opts.out === undefined) throw new LabError('INVALID_ARGUMENT', '--force replaces the --out file; without --out the export goes to stdout', { field: 'force' });
      // Each option belongs to one format: refused with the other rather than ignored.
      if (opts.format === 'csv' && opts.checkpoints) throw new LabError('INVALID_ARGUMENT', '--checkpoints: CSV holds metrics only; use --format json', { field: 'checkpoints' });
      if (opts.format === 'json' && opts.table) throw new LabError('INVALID_ARGUMENT', '--table picks the CSV table; a JSON export holds every table', { field: 'table' });
      if (opts.study && ids.length > 0) throw new LabError('INVALID_ARGUMENT', 'give run ids or --study <name>, not both', { field: 'ids' });
      const list = runIds(ids);
      return withStore(opts.db, async (store) => {
        if (opts.format === 'csv') {
          await output(exportCsv(store.db, opts.study ? exportStudy(store.db, opts.study).runs.map((r) => r.id) : list, opts.table ?? 'epoch'), opts.out, !!opts.force);
          return;
        }
        const doc = opts.study
          ? exportStudy(store.db, opts.study, { checkpoints: !!opts.checkpoints })
          : exportRuns(store.db, list, { checkpoints: !!opts.checkpoints });
        await output(JSON.stringify(doc), opts.out, !!opts.force);
      }, true);
    });
}

/** An export file read, parsed and validated (runs' configs included), each failure naming the file. */
async function readExport(file: string): Promise<ExportDocument> {
  const text = textOf(await readFileArgument(file, 'runs import'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LabError('INVALID_ARGUMENT', `${file} is not JSON, so not a file written by odelab runs export: ${(e as Error).message}`, { field: 'file', path: file });
  }
  try {
    return parseExportDocument(json);
  } catch (e) {
    if (e instanceof LabError) throw new LabError(e.code, `${file}: ${e.reason}`, { ...e.details, path: file });
    throw e;
  }
}

function importCommand(): Command {
  return new Command('import')
    .description('import a JSON export into this run store (new run ids; a run already here is not imported again; all or nothing)')
    .argument('<file>', 'a file written by `odelab runs export` (JSON)')
    .addOption(dbOption(true))
    .addOption(jsonOption())
    .action(async (file: string, opts: { db?: string; json?: boolean }) => {
      // The file is read and validated before the store is opened: a failed import leaves no new store behind.
      const doc = await readExport(file);
      return withStore(opts.db, (store) => {
        const result = importExportDocument(store.db, doc);
        if (opts.json) {
          printJson({ runIds: Object.fromEntries(result.runIds), existing: Object.fromEntries(result.existing), studies: result.studies });
          return;
        }
        const studies = result.studies.length ? ` and ${result.studies.length} stud${result.studies.length === 1 ? 'y' : 'ies'}` : '';
        const lines = [
          `imported ${result.runIds.size} run(s)${studies}${result.runIds.size ? ': ' : ''}` + [...result.runIds].map(([from, to]) => `${from} → ${to}`).join(', '),
          ...(result.existing.size
            ? [`already here, not imported again: ${[...result.existing].map(([from, here]) => `${from} as ${here.id}`).join(', ')}`]
            : []),
          // Never overwritten: say so when the export's copy of a run got further (or less far) than the one here.
          ...[...result.existing]
            .filter(([, here]) => here.differs)
            .map(([from, { id, differs }]) => {
              const state = (p: { status: string; epochsCompleted: number; stepsCompleted: number }) => `${p.status} after ${p.epochsCompleted} epoch(s), ${p.stepsCompleted} step(s)`;
              return `  the export's run ${from} differs from run ${id} here (here: ${state(differs!.here)}; in the export: ${state(differs!.export)}); run ${id} was left as it is (to take the export's: odelab runs delete ${id}, then import again)`;
            }),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}

function resumeCommand(): Command {
  const cmd = new Command('resume')
    .description(
      "continue an interrupted, failed or cancelled run from its last checkpoint or its resume point (whichever is later), in place; its files go on in the run's " +
        'own folder (the --out it was started with), or in --out',
    )
    .argument('<id>', 'run id')
    .option(
      '--force',
      'take over a run the store still has as running or queued, whose process you know is gone (the lab judges a process by its id alone on Windows, and never judges another machine\'s)',
    )
    .addOption(dbOption());
  return launchOptions(cmd).action((id: string, opts: LaunchFlags & { db?: string; force?: boolean }) =>
    withService(
      opts.db,
      async (service) => {
        const [runId] = runIds([id]);
        const launch = { dataDir: opts.dataDir, backend: opts.backend, workers: opts.workers, outDir: opts.out, resumePointMinutes: opts.checkpointEvery };
        const run = service.resumeRun(runId, { ...launch, force: opts.force });
        await followRun(run, opts, service.store.path);
      },
      { existing: true },
    ),
  );
}

function checkpointCommand(): Command {
  return new Command('checkpoint')
    .description("write a run's stored checkpoint to a file (its latest, or --epoch's): to share it, or to start a new run from it with train --resume")
    .argument('<id>', 'run id')
    .option('--epoch <n>', "that epoch's checkpoint", positiveInt)
    .requiredOption('--out <file>', 'the file to write (refused if it exists, unless --force)')
    .option('--force', 'replace the file if it exists')
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((id: string, opts: { epoch?: number; out: string; force?: boolean; db?: string; json?: boolean }) => {
      const [runId] = runIds([id]);
      return withStore(opts.db, async (store) => {
        const c = loadCheckpoint(store.db, runId, opts.epoch); // checked: a damaged one is refused, naming it
        await writeOut(opts.out, c.data, { replace: !!opts.force });
        const written = { runId, epoch: c.epoch, step: c.step, bytes: c.bytes, file: resolve(opts.out) };
        if (opts.json) printJson(written);
        else process.stdout.write(`run ${runId}, epoch ${c.epoch} (step ${c.step}, ${(c.bytes / 1024).toFixed(0)} KiB) written to ${written.file}\n`);
      }, { existing: true });
    });
}

export function runsCommand(): Command {
  const runs = new Command('runs')
    .description('the runs in the run store: list, show, diff, series, tag, delete, export, import, resume, cancel, checkpoint')
    .addHelpText('after', STORE_HELP);
  for (const sub of [listCommand(), showCommand(), diffCommand(), seriesCommand(), tagCommand(), deleteCommand(), exportCommand(), importCommand(), resumeCommand(), cancelCommand(), checkpointCommand()]) {
    runs.addCommand(sub);
  }
  return runs;
}

/** `odelab db check`'s report; the counts are null where the damage kept them from being read. */
interface DbCheckReport {
  path: string;
  schemaVersion: number | null;
  runs: number | null;
  checkpoints: number | null;
  resumePoints: number | null;
  ok: boolean;
  problems: string[];
}

/**
 * Checks an open store. A store SQLite finds damaged is what this command is for: every check that SQLite refuses
 * (SQLITE_CORRUPT, SQLITE_NOTADB) becomes a problem in the report, never an error.
 */
function checkOpenStore(store: RunStore): DbCheckReport {
  const problems: string[] = [];
  const attempt = <T>(what: string, read: () => T): T | null => {
    try {
      return read();
    } catch (e) {
      if (!isDamagedStoreError(e)) throw e;
      problems.push(`${what}: ${(e as Error).message}`);
      return null;
    }
  };
  problems.push(...integrityCheck(store.db).problems);
  // The store keeps checkpoints opaque: a damaged one would otherwise show only at eval or resume.
  const checkpoints = attempt('cannot read every checkpoint', () => checkStoredCheckpoints(store.db));
  if (checkpoints) problems.push(...checkpoints.problems);
  const resumePoints = attempt('cannot read every resume point', () => checkStoredResumePoints(store.db));
  if (resumePoints) problems.push(...resumePoints.problems);
  const runs = attempt('cannot count the runs', () => store.db.prepare('SELECT count(*) FROM runs').pluck().get() as number);
  return {
    path: store.path,
    schemaVersion: SCHEMA_VERSION,
    runs,
    checkpoints: checkpoints?.checked ?? null,
    resumePoints: resumePoints?.checked ?? null,
    ok: problems.length === 0,
    problems,
  };
}

export function dbCommand(): Command {
  const db = new Command('db').description('the run store file');
  db.addCommand(
    new Command('check')
      .description("SQLite's integrity check (and foreign keys) on the run store, and every stored checkpoint's and resume point's length and checksum")
      .addOption(dbOption())
      .addOption(jsonOption())
      .action(async (opts: { db?: string; json?: boolean }) => {
        let report: DbCheckReport;
        try {
          report = await withStore(opts.db, checkOpenStore, true);
        } catch (e) {
          // Too damaged to open (or to finish checking): that is the check's finding, not an error.
          if (!isLabError(e, 'STORE_UNREADABLE') || e.details.damaged !== true) throw e;
          report = { path: String(e.details.path), schemaVersion: null, runs: null, checkpoints: null, resumePoints: null, ok: false, problems: [e.reason] };
        }
        const { ok, problems } = report;
        if (opts.json) printJson(report);
        else {
          const count = (n: number | null, what: string) => `${n ?? '?'} ${what}(s)`;
          const counts = `${report.path}: schema ${report.schemaVersion ?? '?'}, ${count(report.runs, 'run')}, ${count(report.checkpoints, 'checkpoint')}, ${count(report.resumePoints, 'resume point')}`;
          process.stdout.write(ok ? `${counts}, ok\n` : `${counts}, ${problems.length} problem(s):\n${problems.map((p) => `  ${p}\n`).join('')}`);
        }
        if (!ok) process.exitCode = EXIT.FAILED;
      }),
  );
  return db;
}
