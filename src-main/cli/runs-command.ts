/**
 * `odelab runs (list|show|diff|series|tag|delete|export|import|resume|cancel)` and `odelab db check`: the run store from
 * the command line. `--json` prints one JSON document, indented, as `models`, `presets` and `eval` do.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeError, isLabError, LabError } from '../../src-shared/errors';
import { STORED_RUN_STATUSES, type RunSummary, type StartedFrom, type StoredRunStatus } from '../../src-shared/run-record';
import { MODEL_NAMES } from '../../src-shared/run-config';
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
  parseExportDocument,
  listRuns,
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
} from '../store';
import { followRun, launchOptions, type LaunchFlags } from './train-command';
import { dbOption, withService, withStore } from './store-options';
import { jsonOption, printJson } from './json-output';
import { EXIT } from './exit-codes';
import { int, names, nonEmpty, positiveInt, runIds } from './option-parsers';
import { cancelCommand } from './cancel-command';
import { fileProblem, readFileArgument, textOf } from './file-arguments';

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

function listLine(r: RunSummary): string {
  return [
    String(r.id).padStart(5),
    r.status.padEnd(11),
    `${r.model}/${r.method}`.padEnd(32),
    `ep ${r.epochsCompleted}`.padEnd(7),
    `test ${pct(r.final?.testAccuracy)}`.padEnd(13),
    `best ${pct(r.best?.testAccuracy)}`.padEnd(13),
    `${r.wallSeconds.toFixed(0)} s`.padStart(8),
    ` ${oneLine(r.name)}`,
  ].join(' ');
}

function startedFromLine(from: StartedFrom, parentId: number | null): string {
  const whose = parentId === null ? 'not written by a run of this store' : `written by run ${parentId}`;
  return `started from ${from.file} (epoch ${from.epoch}, step ${from.step}; sha256 ${from.sha256.slice(0, 16)}…; ${whose})`;
}

/** A run's tags and notes as text lines (notes' own line breaks kept, indented under the first); '—' when unset. */
function tagsAndNotesLines(run: { tags: string[]; notes: string }): { tags: string; notes: string } {
  return { tags: `tags: ${run.tags.join(', ') || '—'}`, notes: `notes: ${run.notes.replace(/\r?\n/g, '\n       ') || '—'}` };
}

async function output(text: string, out: string | undefined): Promise<void> {
  if (!out) {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    return;
  }
  await writeOut(out, text);
}

/** Writes an --out file; with `replace` false, an existing file is refused (--force replaces it). */
async function writeOut(out: string, data: string | Uint8Array, { replace = true } = {}): Promise<void> {
  try {
    await writeFile(out, data, { flag: replace ? 'w' : 'wx' });
  } catch (e) {
    const { path = out, code } = e as NodeJS.ErrnoException;
    const why = code === 'EEXIST' ? 'it exists (--force replaces it)' : fileProblem(e);
    throw new LabError('INVALID_ARGUMENT', `--out: cannot write ${path}: ${why}`, { field: 'out', path, errno: code });
  }
}

export function printRuns(runs: RunSummary[], json: boolean | undefined): void {
  if (json) printJson(runs);
  else process.stdout.write(runs.map(listLine).join('\n') + (runs.length ? '\n' : 'no runs\n'));
}

function listCommand(): Command {
  return new Command('list')
    .description('list runs, newest first, with final and best test accuracy')
    .addOption(new Option('--status <status...>', 'only runs with these statuses').choices([...STORED_RUN_STATUSES]))
    .option('--tag <tag>', 'only runs with this tag', nonEmpty)
    .option('--study <name>', 'only the runs of this study', nonEmpty)
    .addOption(new Option('--model <name>', 'only runs of this model').choices([...MODEL_NAMES]))
    .option('--limit <n>', 'at most n runs', positiveInt)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((opts: { status?: StoredRunStatus[]; tag?: string; study?: string; model?: string; limit?: number; db?: string; json?: boolean }) =>
      withStore(
        opts.db,
        (store) => {
          // The study's runs in the query, so --limit counts them, not the store's newest runs.
          const studyId = opts.study === undefined ? undefined : getStudy(store.db, opts.study).id;
          printRuns(listRuns(store.db, { ...opts, studyId }), opts.json);
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
          listLine(run),
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

function seriesCommand(): Command {
  return new Command('series')
    .description('a metric of several runs, downsampled to at most --points per run (keeps first, last, min and max)')
    .argument('<ids...>', 'run ids')
    .option('--metric <name>', `per-batch: ${BATCH_METRICS.join(', ')}; per-epoch (with --per-epoch): ${EPOCH_METRICS.join(', ')}`, 'loss')
    .option('--per-epoch', 'a per-epoch metric (default: per batch)')
    .addOption(new Option('--axis <axis>', 'x axis').choices(['step', 'epoch', 'wall']).default('step'))
    .option('--points <n>', `at most this many points per run (at least ${MIN_POINTS})`, points, 500)
    .addOption(dbOption())
    .addOption(jsonOption())
    .action((ids: string[], opts: { metric: string; perEpoch?: boolean; axis: SeriesAxis; points: number; db?: string; json?: boolean }) => {
      const list = runIds(ids);
      return withStore(opts.db, (store) => {
        const series = opts.perEpoch
          ? epochSeries(store.db, list, opts.metric as EpochMetric, { axis: opts.axis, maxPoints: opts.points })
          : batchSeries(store.db, list, opts.metric as BatchMetric, { axis: opts.axis, maxPoints: opts.points });
        if (opts.json) printJson(series);
        else {
          process.stdout.write(
            series.map((s) => [`run ${s.runId} (${s.points.length} of ${s.totalPoints} points)`, ...s.points.map((p) => `  ${p.x}\t${p.y}`)].join('\n')).join('\n') + '\n',
          );
        }
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
    .option('--out <file>', 'write here instead of stdout')
    .addOption(dbOption())
    .action((ids: string[], opts: { study?: string; format: 'json' | 'csv'; table?: CsvTable; checkpoints?: boolean; out?: string; db?: string }) => {
      if (!opts.study && ids.length === 0) throw new LabError('INVALID_ARGUMENT', 'give run ids or --study <name>', { field: 'ids' });
      // Each option belongs to one format: refused with the other rather than ignored.
      if (opts.format === 'csv' && opts.checkpoints) throw new LabError('INVALID_ARGUMENT', '--checkpoints: CSV holds metrics only; use --format json', { field: 'checkpoints' });
      if (opts.format === 'json' && opts.table) throw new LabError('INVALID_ARGUMENT', '--table picks the CSV table; a JSON export holds every table', { field: 'table' });
      if (opts.study && ids.length > 0) throw new LabError('INVALID_ARGUMENT', 'give run ids or --study <name>, not both', { field: 'ids' });
      const list = runIds(ids);
      return withStore(opts.db, async (store) => {
        if (opts.format === 'csv') {
          await output(exportCsv(store.db, opts.study ? exportStudy(store.db, opts.study).runs.map((r) => r.id) : list, opts.table ?? 'epoch'), opts.out);
          return;
        }
        const doc = opts.study
          ? exportStudy(store.db, opts.study, { checkpoints: !!opts.checkpoints })
          : exportRuns(store.db, list, { checkpoints: !!opts.checkpoints });
        await output(JSON.stringify(doc), opts.out);
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
      "continue an interrupted, failed or cancelled run from its last checkpoint, in place; its files go on in the run's " +
        'own folder (the --out it was started with), or in --out',
    )
    .argument('<id>', 'run id')
    .addOption(dbOption());
  return launchOptions(cmd).action((id: string, opts: LaunchFlags & { db?: string }) =>
    withService(
      opts.db,
      async (service) => {
        const [runId] = runIds([id]);
        const run = service.resumeRun(runId, { dataDir: opts.dataDir, backend: opts.backend, workers: opts.workers, outDir: opts.out });
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
  const runs = attempt('cannot count the runs', () => store.db.prepare('SELECT count(*) FROM runs').pluck().get() as number);
  return { path: store.path, schemaVersion: SCHEMA_VERSION, runs, checkpoints: checkpoints?.checked ?? null, ok: problems.length === 0, problems };
}

export function dbCommand(): Command {
  const db = new Command('db').description('the run store file');
  db.addCommand(
    new Command('check')
      .description("SQLite's integrity check (and foreign keys) on the run store, and every stored checkpoint's length and checksum")
      .addOption(dbOption())
      .addOption(jsonOption())
      .action(async (opts: { db?: string; json?: boolean }) => {
        let report: DbCheckReport;
        try {
          report = await withStore(opts.db, checkOpenStore, true);
        } catch (e) {
          // Too damaged to open (or to finish checking): that is the check's finding, not an error.
          if (!isLabError(e, 'STORE_UNREADABLE') || e.details.damaged !== true) throw e;
          report = { path: String(e.details.path), schemaVersion: null, runs: null, checkpoints: null, ok: false, problems: [e.reason] };
        }
        const { ok, problems } = report;
        if (opts.json) printJson(report);
        else {
          const count = (n: number | null, what: string) => `${n ?? '?'} ${what}(s)`;
          const counts = `${report.path}: schema ${report.schemaVersion ?? '?'}, ${count(report.runs, 'run')}, ${count(report.checkpoints, 'checkpoint')}`;
          process.stdout.write(ok ? `${counts}, ok\n` : `${counts}, ${problems.length} problem(s):\n${problems.map((p) => `  ${p}\n`).join('')}`);
        }
        if (!ok) process.exitCode = EXIT.FAILED;
      }),
  );
  return db;
}
