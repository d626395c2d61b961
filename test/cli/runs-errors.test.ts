/**
 * `odelab runs` and `odelab db` when the user gets something wrong: files that cannot be written or read, a
 * missing store, too few ids or points, an export whose configs this version cannot use — each a `CODE: message`
 * naming the path, flag or field, never a stack trace, and never an empty store left behind. Real processes on
 * a real store (rows written as the recorder writes them: no training here; test/cli/runs.test.ts trains, and
 * checks the --json output). Each `odelab` costs 1.5–2 s of startup here, so each case is checked once.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runsCommand } from '../../src-main/cli/runs-command';
import { openDatabase } from '../../src-main/store/database';
import { exportRuns } from '../../src-main/store/export';
import { insertRunRow, sampleConfig } from '../store/fixtures';
import { tempDir } from '../train/fixtures';

const folder = tempDir();
const db = join(folder, 'lab.db');
const missing = join(folder, 'mistyped.db');
const env = { ...process.env, ODELAB_DATA_DIR: join(folder, 'data'), ODELAB_DB: db };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `odelab args…`; an `extraEnv` value of undefined unsets that variable. */
function odelab(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Result> {
  const childEnv = Object.fromEntries(Object.entries({ ...env, ...extraEnv }).filter(([, v]) => v !== undefined));
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/odelab.js', ...args], { encoding: 'utf8', env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A failure as main.ts prints it: one `CODE: message` (no stack trace) and the exit code. */
function expectFailure(r: Result, exit: number, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.code).toBe(exit);
}

let runA = 0;
let runB = 0;
/** runs A and B as `odelab runs export` writes them. */
let exported: ReturnType<typeof exportRuns>;

beforeAll(() => {
  mkdirSync(folder, { recursive: true });
  const d = openDatabase(db);
  runA = insertRunRow(d, { name: 'a', status: 'completed' });
  runB = insertRunRow(d, { name: 'b', status: 'completed', config: sampleConfig({ seed: 3 }) });
  exported = exportRuns(d, [runA, runB]);
  d.close();
});

describe('odelab runs: errors a user can act on', () => {
  it('export --out to a missing folder or a folder: INVALID_ARGUMENT naming the path and why', async () => {
    const [noFolder, isFolder] = await Promise.all([
      odelab(['runs', 'export', String(runA), '--out', join(folder, 'nowhere', 'x.json')]),
      odelab(['runs', 'export', String(runA), '--format', 'csv', '--out', folder]),
    ]);
    expectFailure(noFolder, 2, new RegExp(`^INVALID_ARGUMENT: --out: cannot write ${join(folder, 'nowhere', 'x.json')}: no such file or folder\\n$`));
    expectFailure(isFolder, 2, /^INVALID_ARGUMENT: --out: cannot write .*: it is a folder; give a file name$/m);
  });

  it('import of a missing file, non-JSON, or an export with a bad or newer config: INVALID_ARGUMENT naming the file, run and field; no store created', async () => {
    const doc = structuredClone(exported);
    (doc.runs[1].config.model as { name: string }).name = 'bogus';
    const bogus = join(folder, 'bogus.json');
    writeFileSync(bogus, JSON.stringify(doc));
    (doc.runs[1].config.model as { name: string }).name = 'shapes-odenet';
    (doc.runs[1].config.optimizer as Record<string, unknown>).lookahead = 5;
    const newer = join(folder, 'newer.json');
    writeFileSync(newer, JSON.stringify(doc));
    const notJson = join(folder, 'not.json');
    writeFileSync(notJson, 'runs: 1\n');

    const target = join(folder, 'target.db');
    const [absent, text, invalid, fromNewer] = await Promise.all(
      [join(folder, 'absent.json'), notJson, bogus, newer].map((file) => odelab(['runs', 'import', file, '--db', target])),
    );
    expectFailure(absent, 2, /^INVALID_ARGUMENT: runs import: cannot read .*absent\.json: no such file or folder$/m);
    expectFailure(text, 2, /not\.json is not JSON, so not a file written by odelab runs export/);
    expectFailure(
      invalid,
      2,
      new RegExp(`bogus\\.json: the config of run ${runB} \\("b"\\) is not a valid run configuration; nothing was imported:\\nruns\\.1\\.config\\.model\\.name: Invalid option`),
    );
    expectFailure(fromNewer, 2, /newer\.json: the config of run \d+ \("b"\) has settings this version of the lab does not know: .*newer Neural ODE Lab; update the lab to import it.*\nruns\.1\.config\.optimizer\.lookahead:/s);
    expect(existsSync(target)).toBe(false);
  });

  it('a store that does not exist: NOT_FOUND naming it, nothing created — except runs list on the default store', async () => {
    const fresh = join(folder, 'fresh');
    // One command per way of opening: read-write (list, show, diff, tag, delete), read-only (series, export, db
    // check), through the lab service (resume).
    const [list, series, resume, viaEnv, defaultList] = await Promise.all([
      odelab(['runs', 'list', '--db', missing]),
      odelab(['runs', 'series', '1', '--db', missing]),
      odelab(['runs', 'resume', '1', '--db', missing]),
      odelab(['db', 'check'], { ODELAB_DB: missing }),
      // The default store is lab.db in the app-data folder (XDG_DATA_HOME on Linux), wherever the datasets are.
      odelab(['runs', 'list', '--json'], { ODELAB_DB: undefined, XDG_DATA_HOME: join(fresh, 'xdg'), ODELAB_DATA_DIR: join(fresh, 'data') }),
    ]);
    for (const r of [list, series, resume, viaEnv]) expectFailure(r, 1, new RegExp(`^NOT_FOUND: no database at ${missing}; nothing was created\\n$`));
    expect(existsSync(missing)).toBe(false);
    // A machine that has recorded nothing: no runs, and no file made by looking.
    expect(defaultList).toMatchObject({ code: 0, stdout: '[]\n', stderr: '' });
    expect(existsSync(fresh)).toBe(false);
  });

  it('a store path that is a folder or empty: INVALID_ARGUMENT naming --db or $ODELAB_DB', async () => {
    const [aFolder, empty, emptyEnv] = await Promise.all([
      odelab(['runs', 'list', '--db', folder]),
      odelab(['runs', 'list', '--db', '']),
      odelab(['runs', 'list'], { ODELAB_DB: '' }),
    ]);
    expectFailure(aFolder, 2, new RegExp(`^INVALID_ARGUMENT: --db ${folder} is a folder; expected the store's file \\(e\\.g\\. ${folder}/lab\\.db\\)\\n$`));
    expectFailure(empty, 2, /^INVALID_ARGUMENT: --db: expected a file path, got an empty string\n$/);
    expectFailure(emptyEnv, 2, /^INVALID_ARGUMENT: \$ODELAB_DB is set but empty/);
  });

  it('diff of one run and series of fewer than 4 points are usage errors naming what is needed', async () => {
    const [diff, points] = await Promise.all([odelab(['runs', 'diff', String(runA)]), odelab(['runs', 'series', String(runA), '--points', '2'])]);
    expectFailure(diff, 2, /^INVALID_ARGUMENT: runs diff compares two or more runs; give at least two run ids \(got 1\)$/m);
    expectFailure(points, 2, /option '--points <n>' argument '2' is invalid\. expected an integer of at least 4/);
    const series = runsCommand().commands.find((c) => c.name() === 'series')!;
    expect(series.helpInformation()).toMatch(/--points <n> +at most this many points per run \(at least 4\)/);
  });

  it("options of the other export format, and an unknown model filter, are refused rather than ignored", async () => {
    const [csvCheckpoints, jsonTable, model] = await Promise.all([
      odelab(['runs', 'export', String(runA), '--format', 'csv', '--checkpoints']),
      odelab(['runs', 'export', String(runA), '--table', 'batch']),
      odelab(['runs', 'list', '--model', 'mlpp']),
    ]);
    expectFailure(csvCheckpoints, 2, /^INVALID_ARGUMENT: --checkpoints: CSV holds metrics only; use --format json$/m);
    expectFailure(jsonTable, 2, /^INVALID_ARGUMENT: --table picks the CSV table; a JSON export holds every table$/m);
    expectFailure(model, 2, /option '--model <name>' argument 'mlpp' is invalid\. Allowed choices are odenet-mnist/);
  });

  it('lists a name holding a newline on one line, escaped; imports an export a Windows editor saved with a BOM', async () => {
    const other = join(folder, 'odd-names.db');
    const d = openDatabase(other);
    const id = insertRunRow(d, { name: 'two\nlines\tand\u0007', status: 'completed' });
    d.close();
    const withBom = join(folder, 'bom.json');
    writeFileSync(withBom, '\uFEFF' + JSON.stringify(exported));
    const [list, imported] = await Promise.all([
      odelab(['runs', 'list', '--db', other]),
      odelab(['runs', 'import', withBom, '--db', join(folder, 'from-bom.db')]),
    ]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith(`${id} `))).toEqual([expect.stringMatching(/ two\\nlines\\tand\\u0007$/)]);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringMatching(/^imported 2 run\(s\)/) });
  });
});
