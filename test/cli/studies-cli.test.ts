/**
 * `odelab studies` and the idempotence of `odelab runs import`, as a user meets them: real processes on real store
 * files, the runs in them written by the store's own functions (createRun, markRunning, recordProgress, markEnded),
 * no training. Each `odelab` costs 1.5–2 s of startup, so independent commands run side by side.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src-main/store/database';
import { createRun, markEnded, markRunning, recordProgress } from '../../src-main/store/runs';
import { addToStudy } from '../../src-main/store/studies';
import { sampleConfig } from '../store/fixtures';
import { tempDir } from '../train/fixtures';
import { expectFailure, jsonDocument, startOdelab } from './odelab-process';

const folder = tempDir();
const env = { ...process.env, ODELAB_DATA_DIR: join(folder, 'data'), ODELAB_DB: join(folder, 'default.db') };

const odelab = (...args: string[]) => startOdelab(env, args);
const json = (...args: string[]) => jsonDocument(env, args);

/** Three completed runs (a, b, c) in a new store file, as the recorder leaves them. */
function storeWithRuns(name: string, work: (d: Db, ids: number[]) => void = () => {}): { db: string; ids: number[] } {
  const db = join(folder, name);
  const d = openDatabase(db);
  const ids = ['a', 'b', 'c'].map((run, seed) => {
    const id = createRun(d, { config: sampleConfig({ seed }), name: run });
    recordProgress(d, id, { epochsCompleted: 2, stepsCompleted: 46, wallSeconds: 5 });
    markEnded(d, id, 'completed');
    return id;
  });
  work(d, ids);
  d.close();
  return { db, ids };
}

const runIdsOf = (runs: { id: number }[]) => runs.map((r) => r.id);

describe('odelab studies', () => {
  it('adds runs (creating the study), lists studies, shows one as runs list shows its runs, removes runs and deletes it, keeping the runs', async () => {
    const { db, ids } = storeWithRuns('studies.db');
    const [a, b, c] = ids;
    expect(await json('studies', 'list', '--db', db)).toEqual([]);
    expect(await json('studies', 'add', 'grid', String(a), String(b), '--notes', 'lr sweep', '--db', db)).toEqual({
      name: 'grid',
      created: true,
      added: [a, b],
      already: [],
    });
    expect(await json('studies', 'add', 'grid', String(b), String(c), '--db', db)).toEqual({ name: 'grid', created: false, added: [c], already: [b] });

    const [listed, listText, shown, showText, runsOfStudy, runsListText] = await Promise.all([
      json('studies', 'list', '--db', db),
      odelab('studies', 'list', '--db', db),
      json('studies', 'show', 'grid', '--db', db),
      odelab('studies', 'show', 'grid', '--db', db),
      json('runs', 'list', '--study', 'grid', '--db', db),
      odelab('runs', 'list', '--study', 'grid', '--db', db),
    ]);
    expect(listed).toEqual([{ name: 'grid', runCount: 3, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), notes: 'lr sweep' }]);
    expect(listText.stdout).toMatch(/^grid +3 runs +created \S+ +lr sweep\n$/);
    expect(shown).toEqual({ name: 'grid', createdAt: listed[0].createdAt, notes: 'lr sweep', grid: {}, runs: runsOfStudy });
    expect(runIdsOf(shown.runs)).toEqual([c, b, a]);
    expect(shown.runs[0]).toMatchObject({ name: 'c', status: 'completed', model: 'shapes-odenet', method: 'euler', epochsCompleted: 2 });
    // The text: a header, then exactly the lines runs list prints.
    expect(showText.stdout).toBe(`study grid: 3 runs, created ${listed[0].createdAt}\nnotes: lr sweep\n${runsListText.stdout}`);
    expect(runsListText.stdout.trim().split('\n')).toHaveLength(3);

    expect(await json('studies', 'remove', 'grid', String(c), '--db', db)).toEqual({ name: 'grid', removed: [c] });
    expect(runIdsOf((await json('studies', 'show', 'grid', '--db', db)).runs)).toEqual([b, a]);
    const removedText = await odelab('studies', 'remove', 'grid', String(b), '--db', db);
    expect(removedText.stdout).toBe(`study grid: removed 1 run (${b}); the runs are kept\n`);
    expect(await json('studies', 'delete', 'grid', '--db', db)).toEqual({ deleted: 'grid', runIds: [a] });
    const [after, runs] = await Promise.all([json('studies', 'list', '--db', db), json('runs', 'list', '--db', db)]);
    expect(after).toEqual([]);
    expect(runIdsOf(runs)).toEqual([c, b, a]);
  });

  it('refuses what it cannot do with a CODE: message naming the runs, study or value, changing nothing', async () => {
    const { db, ids } = storeWithRuns('errors.db', (d, [a]) => addToStudy(d, 'kept', [a]));
    const [a, b] = ids;
    const missing = join(folder, 'mistyped.db');
    const [unknownIds, newWithUnknown, notInStudy, noStudy, noDelete, badId, noIds, emptyName, noStore] = await Promise.all([
      odelab('studies', 'add', 'kept', String(b), '998', '999', '--db', db),
      odelab('studies', 'add', 'fresh', String(a), '997', '--notes', 'x', '--db', db),
      odelab('studies', 'remove', 'kept', String(a), String(b), '--db', db),
      odelab('studies', 'show', 'nope', '--db', db),
      odelab('studies', 'delete', 'nope', '--db', db),
      odelab('studies', 'add', 'kept', '1.5', '--db', db),
      odelab('studies', 'add', 'kept', '--db', db),
      odelab('studies', 'add', '', String(a), '--db', db),
      odelab('studies', 'list', '--db', missing),
    ]);
    expectFailure(unknownIds, 1, /^NOT_FOUND: no run with id 998, 999 in this database; nothing was added to study 'kept'\n$/);
    expectFailure(newWithUnknown, 1, /^NOT_FOUND: no run with id 997 in this database; nothing was added to study 'fresh'\n$/);
    expectFailure(notInStudy, 1, new RegExp(`^NOT_FOUND: run ${b} is not in study 'kept'; nothing was removed\\n$`));
    expectFailure(noStudy, 1, /^NOT_FOUND: no study named 'nope' in this database\n$/);
    expectFailure(noDelete, 1, /^NOT_FOUND: no study named 'nope' in this database\n$/);
    expectFailure(badId, 2, /expected a positive integer, got '1\.5'/);
    expectFailure(noIds, 2, /^INVALID_ARGUMENT: ids: give the run ids to add \(or --notes to annotate the study\)\n$/);
    expectFailure(emptyName, 2, /expected a name, got an empty string/);
    expectFailure(noStore, 1, /^NOT_FOUND: no database at .*mistyped\.db; nothing was created\n$/);
    expect(existsSync(missing)).toBe(false);
    // Nothing changed: 'kept' still holds a alone, and no study 'fresh'.
    expect(await json('studies', 'list', '--db', db)).toEqual([{ name: 'kept', runCount: 1, createdAt: expect.any(String), notes: '' }]);
    expect(runIdsOf((await json('studies', 'show', 'kept', '--db', db)).runs)).toEqual([a]);
  });
});

describe('odelab runs import, twice', () => {
  it('imports nothing the second time and says which runs were already there, as which ids; a study deleted here comes back with the runs here', async () => {
    const { db, ids } = storeWithRuns('source.db', (d, [a, b]) => addToStudy(d, 'solvers', [a, b]));
    const [a, b] = ids;
    const file = join(folder, 'ab.json');
    const target = join(folder, 'target.db');
    expect((await odelab('runs', 'export', String(a), String(b), '--out', file, '--db', db)).code).toBe(0);
    const first = await json('runs', 'import', file, '--db', target);
    expect(first).toEqual({ runIds: { [a]: expect.any(Number), [b]: expect.any(Number) }, existing: {}, studies: ['solvers'] });
    const [aHere, bHere] = [first.runIds[a], first.runIds[b]];

    const again = await odelab('runs', 'import', file, '--db', target);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(`imported 0 run(s)\nalready here, not imported again: ${a} as ${aHere}, ${b} as ${bHere}\n`);
    expect(await json('runs', 'import', file, '--db', target)).toEqual({
      runIds: {},
      existing: { [a]: { id: aHere, differs: null }, [b]: { id: bHere, differs: null } },
      studies: [],
    });
    expect(runIdsOf(await json('runs', 'list', '--db', target))).toEqual([bHere, aHere]);

    // The study deleted here, and one more run in the export: the study comes back with the runs here, c is added.
    expect((await odelab('studies', 'delete', 'solvers', '--db', target)).code).toBe(0);
    const withC = join(folder, 'abc.json');
    expect((await odelab('runs', 'export', String(a), String(b), String(ids[2]), '--out', withC, '--db', db)).code).toBe(0);
    const third = await json('runs', 'import', withC, '--db', target);
    expect(third).toMatchObject({ existing: { [a]: { id: aHere }, [b]: { id: bHere } }, studies: ['solvers'] });
    expect(Object.keys(third.runIds)).toEqual([String(ids[2])]);
    expect(runIdsOf((await json('studies', 'show', 'solvers', '--db', target)).runs)).toEqual([bHere, aHere]);
  });

  it('a run exported while running and again once completed: already there, the difference said, the copy here not overwritten', async () => {
    let live = 0;
    const { db } = storeWithRuns('live.db', (d) => {
      // Owned by this (live) test process, so the CLI's opens leave it running.
      live = createRun(d, { config: sampleConfig({ seed: 9 }), name: 'long run' });
      markRunning(d, live, { backend: 'cpu', parameterCount: 100, trainSize: 240, testSize: 60, batchesPerEpoch: 23, datasetId: null });
      recordProgress(d, live, { epochsCompleted: 1, stepsCompleted: 23, wallSeconds: 3 });
    });
    const midRun = join(folder, 'mid-run.json');
    const target = join(folder, 'live-target.db');
    expect((await odelab('runs', 'export', String(live), '--out', midRun, '--db', db)).code).toBe(0);
    const here = (await json('runs', 'import', midRun, '--db', target)).runIds[live];
    expect(await json('runs', 'show', String(here), '--db', target)).toMatchObject({ status: 'interrupted', epochsCompleted: 1 });

    const d = openDatabase(db);
    recordProgress(d, live, { epochsCompleted: 3, stepsCompleted: 69, wallSeconds: 9 });
    markEnded(d, live, 'completed');
    d.close();
    const done = join(folder, 'done.json');
    expect((await odelab('runs', 'export', String(live), '--out', done, '--db', db)).code).toBe(0);

    const [again, later] = [await odelab('runs', 'import', midRun, '--db', target), await odelab('runs', 'import', done, '--db', target)];
    expect(again.stdout).toBe(`imported 0 run(s)\nalready here, not imported again: ${live} as ${here}\n`);
    expect(later.stderr).toBe('');
    expect(later.stdout).toBe(
      `imported 0 run(s)\nalready here, not imported again: ${live} as ${here}\n` +
        `  the export's run ${live} differs from run ${here} here (here: interrupted after 1 epoch(s), 23 step(s); in the export: completed after 3 epoch(s), 69 step(s)); ` +
        `run ${here} was left as it is (to take the export's: odelab runs delete ${here}, then import again)\n`,
    );
    const [runs, shown] = await Promise.all([json('runs', 'list', '--db', target), json('runs', 'show', String(here), '--db', target)]);
    expect(runIdsOf(runs)).toEqual([here]);
    expect(shown).toMatchObject({ status: 'interrupted', epochsCompleted: 1, stepsCompleted: 23 });
  });
});
