import { describe, expect, it } from 'vitest';
import type { Db } from '../../src-main/store/database';
import { exportRuns, exportStudy } from '../../src-main/store/export';
import { exportCsv } from '../../src-main/store/export-csv';
import type { ExportDocument } from '../../src-main/store/export-format';
import { importDocument } from '../../src-main/store/import';
import { rebuildBuckets } from '../../src-main/store/metrics';
import { markEnded, recordProgress } from '../../src-main/store/runs';
import { SCHEMA_VERSION } from '../../src-main/store/migrations';
import { checkpointBytes, dbsClosedAfterEachTest, expectLabError, insertRunRow, sampleConfig } from './fixtures';

// ── A realistic store, filled with raw SQL ───────────────────────────────────────────────────────────────────

const AWKWARD_NAME = 'He said "hi", then\nleft, ünïcødé ✓ 🚀\r\nend';
const AWKWARD_FLOATS = [1e-300, 0.1 + 0.2, 1.7976931348623157e308, 5e-324, -2.5e-17, 1 / 3, 123456789.12345679, -0.1 * 3];

/** Deterministic doubles in [0, 1) with all 53 mantissa bits in use (mulberry32, two draws per double). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  const u32 = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((u32() >>> 5) * 67108864 + (u32() >>> 6)) / 9007199254740992;
}

const float64Blob = (values: number[]) => Buffer.from(new Float64Array(values).buffer);
const int32Blob = (values: number[]) => Buffer.from(new Int32Array(values).buffer);

function insertDataset(db: Db): number {
  const info = db
    .prepare(
      `INSERT INTO datasets (name, spec_json, source_json, content_hash, classes_json, train_count, test_count, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      'shapes, "compound"',
      JSON.stringify(sampleConfig().dataset),
      JSON.stringify({ kind: 'generated', path: 'C:\\data\\shapes' }),
      'ab'.repeat(32),
      JSON.stringify(['blank', 'triangle', 'circle', 'rectangle', 'tri+circ', 'tri+rect', 'circ+rect']),
      2700,
      6000,
      '2025-01-02T03:04:05.678Z',
    );
  return Number(info.lastInsertRowid);
}

function fillRunColumns(db: Db, id: number, datasetId: number, extra: Record<string, unknown>): void {
  const values = {
    started_at: '2025-01-02T03:04:06.000Z',
    ended_at: '2025-01-02T04:00:00.000Z',
    backend: 'tensorflow',
    tags_json: JSON.stringify(['solver, implicit', 'quote"d', 'ünï']),
    notes: 'line 1\r\nline "2", with comma',
    owner_pid: 4242,
    owner_host: 'lab-host',
    parameter_count: 208_135,
    train_size: 2700,
    test_size: 6000,
    epochs_completed: 2,
    steps_completed: 45,
    wall_seconds: 0.1 + 0.2,
    dataset_id: datasetId,
    started_from_json: JSON.stringify({ file: '/home/ünï/a "b"/epoch-001.ckpt', sha256: 'cd'.repeat(32), epoch: 1, step: 23 }),
    ...extra,
  };
  const sets = Object.keys(values).map((k) => `${k} = @${k}`);
  db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = @id`).run({ ...values, id });
}

function insertMetrics(db: Db, runId: number, seed: number): void {
  const rand = prng(seed);
  const batch = db.prepare('INSERT INTO batch_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (let step = 1; step <= 45; step++) {
    const loss = step <= AWKWARD_FLOATS.length ? AWKWARD_FLOATS[step - 1] : rand() * 2;
    batch.run(runId, step, Math.ceil(step / 23), ((step - 1) % 23) + 1, loss, rand(), 20 + step, 40 + step, rand() / 7, step * rand());
  }
  const epoch = db.prepare('INSERT INTO epoch_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const e of [1, 2]) {
    epoch.run(runId, e, e * 23, rand(), rand(), rand(), 1e-300 * e, 21.5, 24, 41.25, 44, 230, 7, 20.125, rand() * 100, rand() * 200, 2 ** 40 + e, 3e9);
  }
  const evaluation = db.prepare('INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)');
  evaluation.run(runId, 10, 1, Infinity, 0.1 + 0.2, 1000, 20.5);
  evaluation.run(runId, 23, 1, rand(), rand(), 6000, 21);
  evaluation.run(runId, 46, 2, -Infinity, 5e-324, 6000, 22);
  const confusion = db.prepare('INSERT INTO confusion_matrices VALUES (?, ?, ?, ?, ?)');
  for (const e of [1, 2]) {
    const matrix = [
      [850, 3, 0],
      [12, 700 + e, 1],
      [0, 0, 0],
    ];
    confusion.run(runId, e, JSON.stringify(matrix), JSON.stringify([0.1 + 0.2, 1 / 3, NaN]), int32Blob([0, 7, 5999, 2147483647, -1, e]));
  }
  const sizes = db.prepare('INSERT INTO step_sizes VALUES (?, ?, ?)');
  sizes.run(runId, 1, float64Blob([0.05, 1e-300, 0.1 + 0.2, 5e-324]));
  sizes.run(runId, 2, float64Blob([-0, Infinity, NaN, -Infinity]));
  sizes.run(runId, 3, float64Blob([]));
  const checkpoint = db.prepare('INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)');
  for (const [epoch, step, data] of [[1, 23, checkpointBytes(1, 23, 1000, seed)], [2, 45, checkpointBytes(2, 45, 0)]] as const) {
    checkpoint.run(runId, epoch, step, data.byteLength, `2025-01-02T03:${epoch * 29}:00.000Z`, data);
  }
}

function insertStudy(db: Db, name: string, runIds: number[]): void {
  const info = db
    .prepare('INSERT INTO studies (name, created_at, grid_json, notes) VALUES (?, ?, ?, ?)')
    .run(name, '2025-01-01T00:00:00.000Z', JSON.stringify({ 'model.solver.method': ['euler', 'implicit-euler'], seed: [0, 1] }), 'notes, "quoted"\n');
  for (const id of runIds) db.prepare('INSERT INTO study_runs VALUES (?, ?)').run(Number(info.lastInsertRowid), id);
}

/** Two runs (the second resumed from the first), a dataset, a study, and a row in every table. */
function populate(db: Db): { parent: number; child: number } {
  const datasetId = insertDataset(db);
  const parent = insertRunRow(db, { name: AWKWARD_NAME, status: 'interrupted', config: sampleConfig({ name: 'parent "run"' }) });
  const child = insertRunRow(db, {
    name: 'child, resumed',
    status: 'failed',
    config: sampleConfig({ seed: 7, model: { name: 'shapes-odenet', solver: { method: 'implicit-euler', stepSize: 0.05 } } }),
  });
  fillRunColumns(db, parent, datasetId, {});
  fillRunColumns(db, child, datasetId, {
    parent_id: parent,
    error_code: 'NONLINEAR_SOLVE_FAILED',
    error_message: 'the implicit solve did not converge, "really"',
    error_details_json: JSON.stringify({ epoch: 2, residual: 1e-300, where: { batch: 3 }, list: [1, 'two', null] }),
  });
  insertMetrics(db, parent, 1);
  insertMetrics(db, child, 2);
  insertStudy(db, 'solver grid, "v1"', [parent, child]);
  rebuildBuckets(db, parent);
  rebuildBuckets(db, child);
  return { parent, child };
}

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────────────────────

const db = dbsClosedAfterEachTest();

const TABLES = ['runs', 'batch_metrics', 'epoch_metrics', 'evaluations', 'checkpoints', 'datasets', 'confusion_matrices', 'step_sizes', 'studies', 'study_runs', 'metric_buckets'];

/** A value with its exact bits: doubles as their IEEE-754 hex, blobs as hex. */
function bits(v: unknown): unknown {
  if (typeof v === 'number') return `f64:${float64Blob([v]).toString('hex')}`;
  if (Buffer.isBuffer(v)) return `blob:${v.toString('hex')}`;
  return v;
}

/** A per-run table's rows with every value as exact bits, run_id dropped. */
function runTableBits(d: Db, table: string, runId: number): unknown[][] {
  const order = table === 'metric_buckets' ? '2, 3, 4' : '2';
  const rows = d.prepare(`SELECT * FROM ${table} WHERE run_id = ? ORDER BY ${order}`).raw().all(runId) as unknown[][];
  return rows.map((r) => r.slice(1).map(bits));
}

/** Everything in the store, for "nothing changed". */
function snapshot(d: Db): Record<string, unknown[][]> {
  return Object.fromEntries(TABLES.map((t) => [t, (d.prepare(`SELECT * FROM ${t}`).raw().all() as unknown[][]).map((r) => r.map(bits))]));
}

/** The document as it travels: through JSON text. */
const viaJson = (doc: ExportDocument): unknown => JSON.parse(JSON.stringify(doc));

/** The document as a lab before run uids wrote it (export format version 1). */
const asVersion1 = (doc: ExportDocument): unknown => viaJson({ ...doc, version: 1, runs: doc.runs.map(({ uid: _uid, ...run }) => run) });

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Document B with its ids mapped back to document A's, and exportedAt dropped. */
function withIdsOf(docB: ExportDocument, runIds: Map<number, number>, datasetIds: Map<number, number>): unknown {
  const back = new Map([...runIds].map(([oldId, newId]) => [newId, oldId]));
  const run = (id: number | null) => (id === null ? null : (back.get(id) ?? -1));
  return {
    ...docB,
    exportedAt: undefined,
    runs: docB.runs.map((r) => ({ ...r, id: run(r.id), parentId: run(r.parentId), datasetId: r.datasetId === null ? null : datasetIds.get(r.datasetId) })),
    studies: docB.studies.map((s) => ({ ...s, runIds: s.runIds.map(run) })),
    datasets: docB.datasets.map((d) => ({ ...d, id: datasetIds.get(d.id) })),
  };
}

// ── Tests ────────────────────────────────────────────────────────────────────────────────────────────────────

describe('export and import', () => {
  it('round-trips losslessly: export A → import into empty B → export B gives the same document, every value bit-identical', () => {
    const a = db();
    const { parent, child } = populate(a);
    const docA = exportRuns(a, [parent, child], { checkpoints: true });

    const b = db();
    const { runIds, studies } = importDocument(b, viaJson(docA));
    expect(studies).toEqual(['solver grid, "v1"']);
    expect([...runIds.keys()]).toEqual([parent, child]);
    const docB = exportRuns(b, [runIds.get(parent)!, runIds.get(child)!], { checkpoints: true });

    const datasetIds = new Map([[docB.datasets[0].id, docA.datasets[0].id]]);
    const expected = { ...docA, exportedAt: undefined };
    expect(withIdsOf(docB, runIds, datasetIds)).toEqual(expected);
    // toEqual aside, the JSON text (which carries '-0', 'NaN', 'Infinity' by name) is identical too.
    expect(JSON.stringify(withIdsOf(docB, runIds, datasetIds))).toBe(JSON.stringify(expected));

    // And in the tables themselves, every double and blob bit for bit, metric_buckets rebuilt alike.
    for (const [oldId, newId] of runIds) {
      for (const table of ['batch_metrics', 'epoch_metrics', 'evaluations', 'confusion_matrices', 'step_sizes', 'checkpoints', 'metric_buckets']) {
        expect(runTableBits(b, table, newId), `${table} of run ${oldId}`).toEqual(runTableBits(a, table, oldId));
      }
    }
    expect(b.prepare('SELECT count(*) FROM metric_buckets').pluck().get()).toBeGreaterThan(0);
    expect(b.prepare('SELECT parent_id FROM runs WHERE id = ?').pluck().get(runIds.get(child))).toBe(runIds.get(parent));
  });

  it('writes the documented format: camelCase, parsed JSON columns, columnar metrics, named non-finite doubles', () => {
    const a = db();
    const { parent, child } = populate(a);
    const doc = exportRuns(a, [child, parent]);
    expect(doc).toMatchObject({ format: 'neural-ode-lab.runs', version: 2, schemaVersion: SCHEMA_VERSION });
    expect(doc.runs.map((r) => r.id)).toEqual([child, parent]);
    const run = doc.runs[0];
    expect(run).toMatchObject({
      uid: expect.stringMatching(UUID_V4),
      parentId: parent,
      status: 'failed',
      tags: ['solver, implicit', 'quote"d', 'ünï'],
      errorDetails: { epoch: 2, residual: 1e-300, where: { batch: 3 }, list: [1, 'two', null] },
      config: { seed: 7, model: { solver: { method: 'implicit-euler' } } },
      wallSeconds: 0.30000000000000004,
      startedFrom: { file: '/home/ünï/a "b"/epoch-001.ckpt', sha256: 'cd'.repeat(32), epoch: 1, step: 23 },
    });
    expect(run.batchMetrics.loss.slice(0, 3)).toEqual([1e-300, 0.30000000000000004, 1.7976931348623157e308]);
    expect(run.batchMetrics.step).toHaveLength(45);
    expect(run.evaluations.testLoss).toEqual(['Infinity', expect.any(Number), '-Infinity']);
    expect(run.confusionMatrices[0]).toMatchObject({ perClassAccuracy: [0.30000000000000004, 1 / 3, null], misclassified: [0, 7, 5999, 2147483647, -1, 1] });
    expect(run.stepSizes.map((s) => s.sizes)).toEqual([[0.05, 1e-300, 0.30000000000000004, 5e-324], ['-0', 'Infinity', 'NaN', '-Infinity'], []]);
    expect('checkpoints' in run).toBe(false);
    expect(doc.studies).toEqual([expect.objectContaining({ name: 'solver grid, "v1"', runIds: [child, parent] })]);
    expect(doc.datasets).toHaveLength(1);
    expect(doc.datasets[0]).toMatchObject({ name: 'shapes, "compound"', classes: expect.any(Array), spec: { kind: 'shapes' } });
  });

  it('carries every column of every exported table (a new column must be added to the export)', () => {
    const a = db();
    const { parent } = populate(a);
    const run = exportRuns(a, [parent], { checkpoints: true }).runs[0] as unknown as Record<string, Record<string, unknown>[] | Record<string, unknown>>;
    const columns = (table: string) => (a.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
    const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const keysAsColumns = (o: object) => Object.keys(o).map(snake);
    const jsonColumn = (c: string) => c.replace(/_json$/, '');
    // final_json / best_json are derived (triggers on epoch_metrics), out_dir is a path and owner_started a process
    // token on the machine that ran the run, cancel_requested a request to a live process: none is exported.
    const notExported = ['final_json', 'best_json', 'out_dir', 'owner_started', 'cancel_requested'];
    expect(columns('runs').filter((c) => !notExported.includes(c)).map(jsonColumn).sort()).toEqual(
      keysAsColumns(run)
        .filter((k) => !['batch_metrics', 'epoch_metrics', 'evaluations', 'confusion_matrices', 'step_sizes', 'checkpoints'].includes(k))
        .sort(),
    );
    expect(['run_id', ...keysAsColumns(run.batchMetrics)]).toEqual(columns('batch_metrics'));
    expect(['run_id', ...keysAsColumns(run.epochMetrics)]).toEqual(columns('epoch_metrics'));
    expect(['run_id', ...keysAsColumns(run.evaluations)]).toEqual(columns('evaluations'));
    expect(['run_id', ...keysAsColumns((run.confusionMatrices as Record<string, unknown>[])[0])].map(jsonColumn)).toEqual(columns('confusion_matrices').map(jsonColumn));
    expect(['run_id', ...keysAsColumns((run.stepSizes as Record<string, unknown>[])[0])]).toEqual(columns('step_sizes'));
    expect(['run_id', ...keysAsColumns((run.checkpoints as Record<string, unknown>[])[0])]).toEqual(columns('checkpoints'));
  });

  it('exports a study with its grid and all its runs', () => {
    const a = db();
    const { parent, child } = populate(a);
    const other = insertRunRow(a, { status: 'completed' });
    insertStudy(a, 'other', [other, child]);
    const doc = exportStudy(a, 'solver grid, "v1"');
    expect(doc.runs.map((r) => r.id)).toEqual([parent, child]);
    expect(doc.studies).toEqual([
      {
        name: 'solver grid, "v1"',
        createdAt: '2025-01-01T00:00:00.000Z',
        grid: { 'model.solver.method': ['euler', 'implicit-euler'], seed: [0, 1] },
        notes: 'notes, "quoted"\n',
        runIds: [parent, child],
      },
    ]);
    expectLabError(() => exportStudy(a, 'nope'), 'NOT_FOUND', /no study named 'nope'/);
  });

  it('refuses unknown run ids with NOT_FOUND naming them', () => {
    const a = db();
    const { parent } = populate(a);
    expectLabError(() => exportRuns(a, [parent, 998, 999]), 'NOT_FOUND', /no run with id 998, 999/);
    expectLabError(() => exportCsv(a, [997], 'batch'), 'NOT_FOUND', /997/);
  });

  it('reuses a dataset with the same spec and content and merges a study of the same name', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    // The same dataset and study already in B, from a run of B's own.
    const own = insertRunRow(b, { name: 'own', status: 'completed' });
    fillRunColumns(b, own, insertDataset(b), {});
    insertStudy(b, 'solver grid, "v1"', [own]);
    const { runIds } = importDocument(b, viaJson(exportRuns(a, [parent, child])));
    expect(b.prepare('SELECT count(*) FROM datasets').pluck().get()).toBe(1);
    expect(b.prepare('SELECT DISTINCT dataset_id FROM runs').pluck().all()).toHaveLength(1);
    expect(b.prepare('SELECT name FROM studies').pluck().all()).toEqual(['solver grid, "v1"']);
    expect(b.prepare('SELECT run_id FROM study_runs ORDER BY run_id').pluck().all()).toEqual([own, runIds.get(parent), runIds.get(child)]);
  });

  it('drops a parent link that points outside the document', () => {
    const a = db();
    const { child } = populate(a);
    const b = db();
    const { runIds } = importDocument(b, viaJson(exportRuns(a, [child])));
    expect(b.prepare('SELECT parent_id FROM runs WHERE id = ?').pluck().get(runIds.get(child))).toBeNull();
  });

  it('drops a dataset link to a dataset the document lacks', () => {
    const a = db();
    const { child } = populate(a);
    const doc = exportRuns(a, [child]);
    const b = db();
    const { runIds } = importDocument(b, { ...(viaJson(doc) as ExportDocument), datasets: [] });
    expect(b.prepare('SELECT dataset_id FROM runs WHERE id = ?').pluck().get(runIds.get(child))).toBeNull();
    expect(b.prepare('SELECT count(*) FROM datasets').pluck().get()).toBe(0);
  });

  it("imports runs exported while queued or running as 'interrupted' and unowned, other statuses as they were", () => {
    const a = db();
    const ids = ['queued', 'running', 'completed', 'diverged'].map((status) => insertRunRow(a, { status }));
    a.prepare("UPDATE runs SET owner_pid = 4242, owner_host = 'elsewhere', epochs_completed = 3").run();
    const doc = exportRuns(a, ids);
    const b = db();
    const { runIds } = importDocument(b, viaJson(doc));
    const rows = ids.map((id) => b.prepare('SELECT status, owner_pid, owner_host, ended_at, error_code, error_message FROM runs WHERE id = ?').get(runIds.get(id)));
    expect(rows).toEqual([
      { status: 'interrupted', owner_pid: null, owner_host: null, ended_at: doc.exportedAt, error_code: 'INTERRUPTED', error_message: 'exported while queued; 3 epoch(s) completed' },
      { status: 'interrupted', owner_pid: null, owner_host: null, ended_at: doc.exportedAt, error_code: 'INTERRUPTED', error_message: 'exported while running; 3 epoch(s) completed' },
      { status: 'completed', owner_pid: 4242, owner_host: 'elsewhere', ended_at: null, error_code: null, error_message: null },
      { status: 'diverged', owner_pid: 4242, owner_host: 'elsewhere', ended_at: null, error_code: null, error_message: null },
    ]);
  });
});

describe('importing runs that are already here', () => {
  const STUDY = 'solver grid, "v1"';
  const runCount = (d: Db) => d.prepare('SELECT count(*) FROM runs').pluck().get();
  const parentOf = (d: Db, id: number) => d.prepare('SELECT parent_id FROM runs WHERE id = ?').pluck().get(id);
  const members = (d: Db, study = STUDY) =>
    d.prepare('SELECT run_id FROM study_runs JOIN studies s ON s.id = study_id WHERE s.name = ? ORDER BY run_id').pluck().all(study);

  it('imports the same export twice: the second adds nothing, names each run already here by its id here, and changes nothing', () => {
    const a = db();
    const { parent, child } = populate(a);
    const doc = viaJson(exportRuns(a, [parent, child], { checkpoints: true }));
    const b = db();
    const first = importDocument(b, doc);
    const before = snapshot(b);
    const second = importDocument(b, doc);
    expect(second.runIds.size).toBe(0);
    expect(second.existing).toEqual(
      new Map([
        [parent, { id: first.runIds.get(parent), differs: null }],
        [child, { id: first.runIds.get(child), differs: null }],
      ]),
    );
    expect(second.studies).toEqual([]);
    expect(snapshot(b)).toEqual(before);
    expect(runCount(b)).toBe(2);
  });

  it('knows its own runs coming back: an export imported into its own store, or into B and exported back, adds nothing', () => {
    const a = db();
    const { parent, child } = populate(a);
    const docA = viaJson(exportRuns(a, [parent, child]));
    const before = snapshot(a);
    const home = importDocument(a, docA);
    expect(home.runIds.size).toBe(0);
    expect([...home.existing].map(([from, here]) => [from, here.id])).toEqual([
      [parent, parent],
      [child, child],
    ]);

    const b = db();
    const { runIds } = importDocument(b, docA);
    const back = importDocument(a, viaJson(exportRuns(b, [runIds.get(child)!, runIds.get(parent)!])));
    expect(back.runIds.size).toBe(0);
    expect(back.existing).toEqual(
      new Map([
        [runIds.get(child), { id: child, differs: null }],
        [runIds.get(parent), { id: parent, differs: null }],
      ]),
    );
    expect(snapshot(a)).toEqual(before);
  });

  it('takes a run exported mid-run and again after it completed for the same run: already here, both progresses reported, the copy here left as it is', () => {
    const a = db();
    const id = insertRunRow(a, { name: 'long run', status: 'running' });
    recordProgress(a, id, { epochsCompleted: 1, stepsCompleted: 23, wallSeconds: 4 });
    const midRun = viaJson(exportRuns(a, [id]));
    // Back into the store it came from while still running: the same run, as far along.
    expect(importDocument(a, midRun)).toEqual({ runIds: new Map(), existing: new Map([[id, { id, differs: null }]]), studies: [] });
    recordProgress(a, id, { epochsCompleted: 3, stepsCompleted: 69, wallSeconds: 12 });
    markEnded(a, id, 'completed');
    const done = viaJson(exportRuns(a, [id]));

    const b = db();
    const here = importDocument(b, midRun).runIds.get(id)!;
    expect(b.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(here)).toBe('interrupted');
    // The snapshot again: what its first import made of it ('interrupted') is as far along as the export ('running').
    expect(importDocument(b, midRun).existing.get(id)).toEqual({ id: here, differs: null });
    const before = snapshot(b);
    const later = importDocument(b, done);
    expect(later.runIds.size).toBe(0);
    expect(later.existing.get(id)).toEqual({
      id: here,
      differs: { here: { status: 'interrupted', epochsCompleted: 1, stepsCompleted: 23 }, export: { status: 'completed', epochsCompleted: 3, stepsCompleted: 69 } },
    });
    expect(snapshot(b)).toEqual(before);

    // The other way round: the completed run here, the older snapshot arrives.
    const c = db();
    const completed = importDocument(c, done).runIds.get(id)!;
    expect(importDocument(c, midRun).existing.get(id)).toEqual({
      id: completed,
      differs: { here: { status: 'completed', epochsCompleted: 3, stepsCompleted: 69 }, export: { status: 'running', epochsCompleted: 1, stepsCompleted: 23 } },
    });
    expect(runCount(c)).toBe(1);
  });

  it('adds only the runs it lacks, linking them to a parent already here, and puts the runs already here in the study', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    const parentHere = importDocument(b, viaJson(exportRuns(a, [parent]))).runIds.get(parent)!;
    const result = importDocument(b, viaJson(exportRuns(a, [parent, child])));
    expect(result.existing).toEqual(new Map([[parent, { id: parentHere, differs: null }]]));
    const childHere = result.runIds.get(child)!;
    expect([...result.runIds.keys()]).toEqual([child]);
    expect(parentOf(b, childHere)).toBe(parentHere);
    expect(members(b)).toEqual([parentHere, childHere]);
    expect(result.studies).toEqual([STUDY]);
    expect(runCount(b)).toBe(2);
  });

  it("maps a study's membership to the runs already here: a study deleted here comes back with them, no run imported again", () => {
    const a = db();
    const { parent, child } = populate(a);
    const doc = viaJson(exportRuns(a, [parent, child]));
    const b = db();
    const { runIds } = importDocument(b, doc);
    b.prepare('DELETE FROM studies').run();
    const again = importDocument(b, doc);
    expect(again.runIds.size).toBe(0);
    expect(again.studies).toEqual([STUDY]);
    expect(members(b)).toEqual([runIds.get(parent), runIds.get(child)]);
    // A run taken out of the study here is put back; the study is reported as added to.
    b.prepare('DELETE FROM study_runs WHERE run_id = ?').run(runIds.get(child));
    expect(importDocument(b, doc).studies).toEqual([STUDY]);
    expect(members(b)).toEqual([runIds.get(parent), runIds.get(child)]);
    expect(runCount(b)).toBe(2);
  });

  it('gives a run here that lacked its parent the parent when it arrives, and never changes a parent link it has', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    const childHere = importDocument(b, viaJson(exportRuns(a, [child]))).runIds.get(child)!;
    expect(parentOf(b, childHere)).toBeNull();
    const { runIds } = importDocument(b, viaJson(exportRuns(a, [parent, child])));
    expect(parentOf(b, childHere)).toBe(runIds.get(parent));

    const c = db();
    const other = insertRunRow(c, { name: 'another parent', status: 'completed' });
    const childInC = importDocument(c, viaJson(exportRuns(a, [child]))).runIds.get(child)!;
    c.prepare('UPDATE runs SET parent_id = ? WHERE id = ?').run(other, childInC);
    importDocument(c, viaJson(exportRuns(a, [parent, child])));
    expect(parentOf(c, childInC)).toBe(other);
  });

  it('tells runs of an export without uids apart by created_at, config hash and name; runs alike in all three are matched one to one', () => {
    const a = db();
    const at = '2025-03-04T05:06:07.089Z';
    const twinA = insertRunRow(a, { name: 'same', status: 'completed' });
    const twinB = insertRunRow(a, { name: 'same', status: 'completed' });
    const aMsLater = insertRunRow(a, { name: 'same', status: 'completed' });
    const otherName = insertRunRow(a, { name: 'other', status: 'completed' });
    const otherConfig = insertRunRow(a, { name: 'same', status: 'completed' });
    a.prepare('UPDATE runs SET created_at = ?').run(at);
    a.prepare('UPDATE runs SET created_at = ? WHERE id = ?').run('2025-03-04T05:06:07.090Z', aMsLater);
    a.prepare("UPDATE runs SET config_hash = 'another' WHERE id = ?").run(otherConfig);
    const all = [twinA, twinB, aMsLater, otherName, otherConfig];
    const doc = asVersion1(exportRuns(a, all));

    const b = db();
    const first = importDocument(b, doc);
    expect(first.runIds.size).toBe(5);
    const second = importDocument(b, doc);
    expect(second.runIds.size).toBe(0);
    expect([...second.existing].map(([from, here]) => [from, here.id])).toEqual(all.map((id) => [id, first.runIds.get(id)]));

    // One twin here already: the other is imported beside it, as are the runs that only look alike.
    const c = db();
    const one = importDocument(c, asVersion1(exportRuns(a, [twinB]))).runIds.get(twinB)!;
    const rest = importDocument(c, doc);
    expect([...rest.existing.values()].map((e) => e.id)).toEqual([one]);
    expect(rest.runIds.size).toBe(4);
    expect(runCount(c)).toBe(5);
  });

  it('is all or nothing with runs already here: a broken run beside them imports nothing', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    importDocument(b, viaJson(exportRuns(a, [parent])));
    b.prepare('DELETE FROM studies').run();
    const before = snapshot(b);
    const doc = viaJson(exportRuns(a, [parent, child])) as ExportDocument;
    const steps = doc.runs[1].batchMetrics.step;
    steps[steps.length - 1] = steps[0];
    expectLabError(() => importDocument(b, doc), 'INVALID_ARGUMENT', /could not be imported, nothing was imported: UNIQUE constraint failed: batch_metrics/);
    expect(snapshot(b)).toEqual(before);
  });
});

describe('run uids across stores', () => {
  const uidOf = (d: Db, id: number) => d.prepare('SELECT uid FROM runs WHERE id = ?').pluck().get(id) as string;
  const runCount = (d: Db) => d.prepare('SELECT count(*) FROM runs').pluck().get();

  it('keeps a run\'s uid in every store it travels to, and knows it by that uid when it comes back', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    const inB = importDocument(b, viaJson(exportRuns(a, [parent, child]))).runIds;
    const c = db();
    const inC = importDocument(c, viaJson(exportRuns(b, [inB.get(parent)!, inB.get(child)!]))).runIds;
    for (const id of [parent, child]) {
      expect(uidOf(a, id)).toMatch(UUID_V4);
      expect(uidOf(b, inB.get(id)!)).toBe(uidOf(a, id));
      expect(uidOf(c, inC.get(inB.get(id)!)!)).toBe(uidOf(a, id));
    }
    // Back from C to A: the same runs, nothing added.
    const back = importDocument(a, viaJson(exportRuns(c, [...inC.values()])));
    expect(back.runIds.size).toBe(0);
    expect([...back.existing.values()].map((e) => e.id).sort()).toEqual([parent, child].sort());
    expect(runCount(a)).toBe(2);
  });

  it('matches by uid where created_at, config hash and name would not, or would pick another run', () => {
    const a = db();
    const { parent } = populate(a);
    const doc = exportRuns(a, [parent]);
    const b = db();
    const here = importDocument(b, viaJson(doc)).runIds.get(parent)!;
    // The copy here has another name now (no command renames a run yet; written as one would).
    b.prepare("UPDATE runs SET name = 'renamed here' WHERE id = ?").run(here);
    expect(importDocument(b, viaJson(doc)).existing).toEqual(new Map([[parent, { id: here, differs: null }]]));
    expect(runCount(b)).toBe(1);
    // The same export without uids cannot tell it is that run: imported again.
    expect(importDocument(b, asVersion1(doc)).runIds.size).toBe(1);
    expect(runCount(b)).toBe(2);

    // Two runs alike in created_at, config and name: the uid tells which one is here.
    const twins = db();
    const [first, second] = [insertRunRow(twins, { name: 'twin' }), insertRunRow(twins, { name: 'twin' })];
    twins.prepare("UPDATE runs SET created_at = '2025-03-04T05:06:07.089Z', status = 'completed'").run();
    const c = db();
    const secondInC = importDocument(c, viaJson(exportRuns(twins, [second]))).runIds.get(second)!;
    const both = importDocument(c, viaJson(exportRuns(twins, [first, second])));
    expect(both.existing).toEqual(new Map([[second, { id: secondInC, differs: null }]]));
    expect([...both.runIds.keys()]).toEqual([first]);
    expect(uidOf(c, both.runIds.get(first)!)).toBe(uidOf(twins, first));
  });

  it('imports an export from before uids, giving its runs uids of their own, and still knows them by created_at, config hash and name', () => {
    const a = db();
    const { parent, child } = populate(a);
    const old = asVersion1(exportRuns(a, [parent, child]));
    const b = db();
    const { runIds } = importDocument(b, old);
    const uids = [parent, child].map((id) => uidOf(b, runIds.get(id)!));
    uids.forEach((uid, i) => {
      expect(uid).toMatch(UUID_V4);
      expect(uid).not.toBe(uidOf(a, [parent, child][i]));
    });
    const before = snapshot(b);
    expect(importDocument(b, old).existing).toEqual(
      new Map([
        [parent, { id: runIds.get(parent), differs: null }],
        [child, { id: runIds.get(child), differs: null }],
      ]),
    );
    // A's export now carries uids B has never seen (its copies got their own): matched as before, nothing added.
    const withUids = importDocument(b, viaJson(exportRuns(a, [parent, child])));
    expect(withUids.runIds.size).toBe(0);
    expect([...withUids.existing.values()].map((e) => e.id)).toEqual([runIds.get(parent), runIds.get(child)]);
    expect(snapshot(b)).toEqual(before);
  });

  it("refuses a run whose uid belongs to another run here (created or configured otherwise), importing nothing", () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    const mine = insertRunRow(b, { name: 'mine', status: 'completed' });
    const before = snapshot(b);
    const doc = viaJson(exportRuns(a, [parent, child])) as ExportDocument;
    doc.runs[1].uid = uidOf(b, mine);
    const mineCreated = b.prepare('SELECT created_at FROM runs WHERE id = ?').pluck().get(mine) as string;
    expect(() => importDocument(b, doc)).toThrow(
      `INVALID_ARGUMENT: runs.1.uid: run ${child} ("child, resumed") has the uid ${doc.runs[1].uid} of run ${mine} here, which is another run ` +
        `(created ${mineCreated}, not ${doc.runs[1].createdAt}); the export was edited or damaged. Nothing was imported`,
    );
    expectLabError(() => importDocument(b, doc), 'INVALID_ARGUMENT', /^INVALID_ARGUMENT: runs\.1\.uid: /, { field: 'runs.1.uid', runId: child, existingRunId: mine });
    expect(snapshot(b)).toEqual(before);
    // Created at the same moment, but another config: still another run.
    b.prepare("UPDATE runs SET created_at = ?, config_hash = 'another' WHERE id = ?").run(doc.runs[1].createdAt, mine);
    const alike = snapshot(b);
    expectLabError(() => importDocument(b, doc), 'INVALID_ARGUMENT', /which is another run \(its config differs \(hash another…, not test…\)\)/);
    expect(snapshot(b)).toEqual(alike);
  });

  it('checks uids: RFC 4122, each once in a document', () => {
    const a = db();
    const { parent, child } = populate(a);
    const b = db();
    const doc = viaJson(exportRuns(a, [parent, child])) as ExportDocument;
    expectLabError(() => importDocument(b, { ...doc, runs: [doc.runs[0], { ...doc.runs[1], uid: doc.runs[0].uid }] }), 'INVALID_ARGUMENT', /runs\.1\.uid: ".*" appears twice/);
    expectLabError(() => importDocument(b, { ...doc, runs: [{ ...doc.runs[0], uid: 'run-7' }, doc.runs[1]] }), 'INVALID_ARGUMENT', /runs\.0\.uid:/);
    expect(runCount(b)).toBe(0);
  });
});

describe('import validation and atomicity', () => {
  function populatedTarget(): { a: Db; b: Db; doc: ExportDocument; before: unknown } {
    const a = db();
    const { parent, child } = populate(a);
    const doc = viaJson(exportRuns(a, [parent, child], { checkpoints: true })) as ExportDocument;
    const b = db();
    insertRunRow(b, { name: 'already here', status: 'completed' });
    return { a, b, doc, before: snapshot(b) };
  }

  it('refuses a newer format version by name, leaving the store unchanged', () => {
    const { b, doc, before } = populatedTarget();
    expectLabError(() => importDocument(b, { ...doc, version: 4 }), 'INVALID_ARGUMENT', /newer Neural ODE Lab \(export format version 4; this version reads up to 3\)/);
    expect(snapshot(b)).toEqual(before);
  });

  it('refuses what is not an export', () => {
    const { b } = populatedTarget();
    expectLabError(() => importDocument(b, null), 'INVALID_ARGUMENT', /not a Neural ODE Lab run export/);
    expectLabError(() => importDocument(b, { format: 'something else' }), 'INVALID_ARGUMENT', /expected 'neural-ode-lab.runs', found "something else"/);
  });

  it('names the field path of a bad value deep in the second run, and imports nothing', () => {
    const { b, doc, before } = populatedTarget();
    doc.runs[1].batchMetrics.loss[3] = 'lots' as never;
    expectLabError(() => importDocument(b, doc), 'INVALID_ARGUMENT', /runs\.1\.batchMetrics\.loss\.3:/);
    expect(snapshot(b)).toEqual(before);
  });

  it('checks columns are of one length, ids unique, statuses known and fields known', () => {
    const { b, doc, before } = populatedTarget();
    const short = structuredClone(doc);
    short.runs[0].epochMetrics.rssBytes.pop();
    expectLabError(() => importDocument(b, short), 'INVALID_ARGUMENT', /runs\.0\.epochMetrics\.rssBytes: has 1 values where the first column has 2/);
    const twice = structuredClone(doc);
    twice.runs[1].id = twice.runs[0].id;
    expectLabError(() => importDocument(b, twice), 'INVALID_ARGUMENT', /runs\.1\.id: \d+ appears twice/);
    const status = structuredClone(doc);
    (status.runs[0] as { status: string }).status = 'exploded';
    expectLabError(() => importDocument(b, status), 'INVALID_ARGUMENT', /runs\.0\.status:/);
    const extra = structuredClone(doc) as unknown as { runs: Record<string, unknown>[] };
    extra.runs[0].surprise = 1;
    expectLabError(() => importDocument(b, extra), 'INVALID_ARGUMENT', /runs\.0: Unrecognized key: "surprise"/);
    const blob = structuredClone(doc);
    blob.runs[0].checkpoints![0].data = 'not base64!';
    expectLabError(() => importDocument(b, blob), 'INVALID_ARGUMENT', /runs\.0\.checkpoints\.0\.data:/);
    expect(snapshot(b)).toEqual(before);
  });

  it('refuses a run whose config this version cannot use, naming the run and the field, and imports nothing', () => {
    const { b, doc, before } = populatedTarget();
    const bogus = structuredClone(doc);
    (bogus.runs[1].config.model as { name: string }).name = 'bogus';
    expectLabError(
      () => importDocument(b, bogus),
      'INVALID_ARGUMENT',
      new RegExp(`the config of run ${doc.runs[1].id} \\("child, resumed"\\) is not a valid run configuration; nothing was imported:\nruns\\.1\\.config\\.model\\.name: Invalid option`),
    );
    const twoRuns = structuredClone(bogus);
    (twoRuns.runs[0].config as { batchSize: unknown }).batchSize = -1;
    expectLabError(() => importDocument(b, twoRuns), 'INVALID_ARGUMENT', /config of 2 runs \(\d+, \d+\) is not a valid.*\nruns\.0\.config\.batchSize: .*\nruns\.1\.config\.model\.name:/s);
    expect(snapshot(b)).toEqual(before);
  });

  it("says a config with settings this version does not know comes from a newer lab, as does an invalid one from a newer store's export", () => {
    const { b, doc, before } = populatedTarget();
    const unknown = structuredClone(doc) as unknown as { runs: { config: { model: { solver: Record<string, unknown> } } & Record<string, unknown> }[] };
    unknown.runs[0].config.model.solver.fancyTolerance = 1e-3;
    expectLabError(
      () => importDocument(b, unknown),
      'INVALID_ARGUMENT',
      /settings this version of the lab does not know: the export was probably written by a newer Neural ODE Lab; update the lab to import it\. Nothing was imported:\nruns\.0\.config\.model\.solver\.fancyTolerance: /,
    );
    const newer = structuredClone(doc);
    newer.schemaVersion = 99;
    (newer.runs[0].config.model as { name: string }).name = 'model-of-the-future';
    expectLabError(() => importDocument(b, newer), 'INVALID_ARGUMENT', /written by a newer Neural ODE Lab \(store schema version 99; this version understands up to \d+\).*\nruns\.0\.config\.model\.name: /s);
    expect(snapshot(b)).toEqual(before);
  });

  it('imports a config stored before a setting existed (it reads as its default), keeping the config as stored', () => {
    const { b, doc } = populatedTarget();
    const older = structuredClone(doc);
    delete (older.runs[0].config as Partial<typeof older.runs[0]['config']>).emaDecay;
    const { runIds } = importDocument(b, older);
    const stored = b.prepare('SELECT config_json FROM runs WHERE id = ?').pluck().get(runIds.get(doc.runs[0].id)) as string;
    expect(JSON.parse(stored)).toEqual(older.runs[0].config);
  });

  it("refuses a checkpoint cut short, damaged or another epoch's, naming the run and epoch, and imports nothing", () => {
    const { b, doc, before } = populatedTarget();
    const [run0, run1] = doc.runs;
    const label = (run: ExportDocument['runs'][number]) => `run ${run.id} \\(${JSON.stringify(run.name).replace(/[()\\]/g, '\\$&')}\\)`;
    const bytesOf = (data: string) => Buffer.from(data, 'base64');

    // Cut short, still valid base64 and JSON: what only eval used to notice ("expected … bytes, found …").
    const cut = structuredClone(doc);
    cut.runs[1].checkpoints![0].data = bytesOf(run1.checkpoints![0].data).subarray(0, 1500).toString('base64');
    expectLabError(
      () => importDocument(b, cut),
      'INVALID_ARGUMENT',
      new RegExp(
        `^INVALID_ARGUMENT: the checkpoint of ${label(run1)} at epoch 1 is damaged in the export; nothing was imported:\\n` +
          `runs\\.1\\.checkpoints\\.0\\.data: holds 1500 bytes, where its byte count says ${run1.checkpoints![0].bytes} \\(cut short or damaged\\)$`,
      ),
      { field: 'runs.1.checkpoints.0.data' },
    );
    // Cut short with its byte count edited to match: the checkpoint's own layout says it is short.
    cut.runs[1].checkpoints![0].bytes = 1500;
    expectLabError(() => importDocument(b, cut), 'INVALID_ARGUMENT', /runs\.1\.checkpoints\.0\.data: the data is not a valid checkpoint: expected \d+ bytes, found 1500$/);

    // One weight's bits flipped, in both runs: the checksum tells, and both are named.
    const flipped = structuredClone(doc);
    for (const run of flipped.runs) {
      const data = bytesOf(run.checkpoints![0].data);
      data[data.length - 40] ^= 0xff;
      run.checkpoints![0].data = data.toString('base64');
    }
    expectLabError(
      () => importDocument(b, flipped),
      'INVALID_ARGUMENT',
      new RegExp(
        `^INVALID_ARGUMENT: 2 checkpoints are \\(${label(run0)} at epoch 1; ${label(run1)} at epoch 1\\) damaged in the export; nothing was imported:\\n` +
          `runs\\.0\\.checkpoints\\.0\\.data: the data is not a valid checkpoint: its content does not match its checksum \\(damaged\\)\\n` +
          `runs\\.1\\.checkpoints\\.0\\.data: the data is not a valid checkpoint: its content does not match its checksum \\(damaged\\)$`,
      ),
    );

    // Epoch 2's bytes under epoch 1's row (and its byte count).
    const swapped = structuredClone(doc);
    const [first, second] = swapped.runs[0].checkpoints!;
    Object.assign(first, { data: second.data, bytes: second.bytes });
    expectLabError(() => importDocument(b, swapped), 'INVALID_ARGUMENT', /runs\.0\.checkpoints\.0\.data: the data is the checkpoint of epoch 2, step 45, where its row says epoch 1, step 23$/);
    expect(snapshot(b)).toEqual(before);
  });

  it('imports checkpoints written before checksums (ODLCKPT1) as they are', () => {
    const { b, doc } = populatedTarget();
    const old = structuredClone(doc);
    const v2 = Buffer.from(doc.runs[0].checkpoints![0].data, 'base64');
    const v1 = Buffer.concat([Buffer.from('ODLCKPT1'), v2.subarray(8, v2.length - 32)]);
    Object.assign(old.runs[0].checkpoints![0], { data: v1.toString('base64'), bytes: v1.length });
    const { runIds } = importDocument(b, old);
    expect(b.prepare('SELECT data FROM checkpoints WHERE run_id = ? AND epoch = 1').pluck().get(runIds.get(doc.runs[0].id))).toEqual(v1);
  });

  it('rolls everything back when the database refuses a row halfway (a step twice in the second run)', () => {
    const { b, doc, before } = populatedTarget();
    const steps = doc.runs[1].batchMetrics.step;
    steps[steps.length - 1] = steps[0];
    expectLabError(() => importDocument(b, doc), 'INVALID_ARGUMENT', /could not be imported, nothing was imported: UNIQUE constraint failed: batch_metrics/);
    expect(snapshot(b)).toEqual(before);
  });
});

// ── CSV ──────────────────────────────────────────────────────────────────────────────────────────────────────

/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quote');
        field += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
    } else {
      const end = text.slice(i).search(/,|\r\n/);
      field = end < 0 ? text.slice(i) : text.slice(i, i + end);
      if (/["\r\n]/.test(field)) throw new Error(`unquoted special character in ${JSON.stringify(field)}`);
      i += field.length;
    }
    record.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else throw new Error(`expected , or CRLF at ${i}`);
  }
  if (record.length) throw new Error('last record lacks its CRLF');
  return records;
}

describe('exportCsv', () => {
  it.each(['batch', 'epoch', 'evaluation'] as const)('writes %s metrics as RFC 4180 CSV that parses back to the same numbers', (table) => {
    const a = db();
    const { parent, child } = populate(a);
    const [header, ...rows] = parseCsv(exportCsv(a, [child, parent], table));
    const sqlTable = { batch: 'batch_metrics', epoch: 'epoch_metrics', evaluation: 'evaluations' }[table];
    const columns = (a.pragma(`table_info(${sqlTable})`) as { name: string }[]).map((c) => c.name).slice(1);
    expect(header).toEqual(['run_id', 'run_name', ...columns]);

    const expected = [child, parent].flatMap((id) => {
      const name = a.prepare('SELECT name FROM runs WHERE id = ?').pluck().get(id);
      return (a.prepare(`SELECT ${columns.join(', ')} FROM ${sqlTable} WHERE run_id = ? ORDER BY 1`).raw().all(id) as number[][]).map((r) => [id, name, ...r]);
    });
    expect(rows).toHaveLength(expected.length);
    rows.forEach((row, i) => {
      expect(row[1]).toBe(expected[i][1]);
      const numbers = [row[0], ...row.slice(2)].map(Number).map(bits);
      expect(numbers).toEqual([expected[i][0], ...expected[i].slice(2)].map(bits));
    });
    expect(rows.some((r) => r[1] === AWKWARD_NAME)).toBe(true);
  });

  it('prints the awkward doubles so they read back bit for bit', () => {
    const a = db();
    const { parent } = populate(a);
    const rows = parseCsv(exportCsv(a, [parent], 'batch')).slice(1);
    const lossColumn = 2 + 3;
    expect(rows.slice(0, AWKWARD_FLOATS.length).map((r) => r[lossColumn])).toEqual(AWKWARD_FLOATS.map(String));
    expect(rows.slice(0, AWKWARD_FLOATS.length).map((r) => Number(r[lossColumn]))).toEqual(AWKWARD_FLOATS);
  });

  it('leaves a missing value empty, not the text "null"', () => {
    const a = db();
    const { parent } = populate(a);
    // SQLite stores a NaN test loss as NULL.
    a.prepare('UPDATE epoch_metrics SET test_loss = NULL WHERE run_id = ? AND epoch = 1').run(parent);
    const [header, first] = parseCsv(exportCsv(a, [parent], 'epoch'));
    expect(first[header.indexOf('test_loss')]).toBe('');
    expect(first[header.indexOf('loss')]).toMatch(/^\d/);
  });
});
