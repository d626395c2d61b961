/** Studies on a real store file: adding and removing runs all or nothing, deleting a study but not its runs. */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src-main/store/database';
import { deleteRun } from '../../src-main/store/runs';
import { addRunsToStudy, addToStudy, createStudy, deleteStudy, getStudy, listStudies, removeRunsFromStudy, setStudyNotes } from '../../src-main/store/studies';
import { dbsClosedAfterEachTest, expectLabError, insertRunRow } from './fixtures';

const db = dbsClosedAfterEachTest();

/** Everything the study tables hold, for "nothing changed". */
const studyTables = (d: Db) => ({
  studies: d.prepare('SELECT * FROM studies ORDER BY id').all(),
  members: d.prepare('SELECT * FROM study_runs ORDER BY study_id, run_id').all(),
});

function threeRuns(d: Db): number[] {
  return ['a', 'b', 'c'].map((name) => insertRunRow(d, { name, status: 'completed' }));
}

describe('studies', () => {
  it('addToStudy creates the study the first time, adds runs once, says which were there already, and replaces notes', () => {
    const d = db();
    const [a, b, c] = threeRuns(d);
    expect(addToStudy(d, 'grid', [b, a, b], { notes: 'lr sweep' })).toMatchObject({ created: true, added: [b, a], already: [] });
    expect(addToStudy(d, 'grid', [a, c])).toMatchObject({ created: false, added: [c], already: [a] });
    expect(getStudy(d, 'grid')).toMatchObject({ name: 'grid', notes: 'lr sweep', grid: {}, runIds: [a, b, c] });
    addToStudy(d, 'grid', [], { notes: 'replaced' });
    expect(getStudy(d, 'grid')).toMatchObject({ notes: 'replaced', runIds: [a, b, c] });
  });

  it('refuses unknown run ids naming each, adding none and creating no study', () => {
    const d = db();
    const [a, b] = threeRuns(d);
    addToStudy(d, 'grid', [a]);
    const before = studyTables(d);
    expectLabError(() => addToStudy(d, 'grid', [b, 998, 999], { notes: 'x' }), 'NOT_FOUND', /no run with id 998, 999 in this database; nothing was added to study 'grid'/, {
      field: 'ids',
      runIds: [998, 999],
    });
    expectLabError(() => addToStudy(d, 'new study', [a, 997]), 'NOT_FOUND', /no run with id 997/);
    expect(studyTables(d)).toEqual(before);
    // addRunsToStudy (by the study's id) checks alike.
    expectLabError(() => addRunsToStudy(d, getStudy(d, 'grid').id, [996]), 'NOT_FOUND', /996/);
    expect(studyTables(d)).toEqual(before);
  });

  it('removes runs from a study, keeping them in the store; an id not in the study removes none', () => {
    const d = db();
    const [a, b, c] = threeRuns(d);
    addToStudy(d, 'grid', [a, b]);
    const before = studyTables(d);
    expectLabError(() => removeRunsFromStudy(d, 'grid', [a, c, 999]), 'NOT_FOUND', new RegExp(`run ${c}, 999 are not in study 'grid'; nothing was removed`), {
      runIds: [c, 999],
    });
    expect(studyTables(d)).toEqual(before);
    expectLabError(() => removeRunsFromStudy(d, 'nope', [a]), 'NOT_FOUND', /no study named 'nope'/);
    expect(removeRunsFromStudy(d, 'grid', [a, a])).toEqual({ removed: [a] });
    expect(getStudy(d, 'grid').runIds).toEqual([b]);
    expect(d.prepare('SELECT id FROM runs ORDER BY id').pluck().all()).toEqual([a, b, c]);
  });

  it('deletes a study, not its runs; other studies keep theirs', () => {
    const d = db();
    const [a, b] = threeRuns(d);
    addToStudy(d, 'grid', [a, b]);
    addToStudy(d, 'other', [b]);
    expect(deleteStudy(d, 'grid')).toEqual({ runIds: [a, b] });
    expectLabError(() => getStudy(d, 'grid'), 'NOT_FOUND', /no study named 'grid'/);
    expectLabError(() => deleteStudy(d, 'grid'), 'NOT_FOUND', /no study named 'grid'/);
    expect(getStudy(d, 'other').runIds).toEqual([b]);
    expect(d.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(3);
  });

  it('lists studies oldest first with run counts and notes; a deleted run leaves its studies', () => {
    const d = db();
    const [a, b, c] = threeRuns(d);
    createStudy(d, { name: 'empty', notes: 'nothing yet', grid: { seed: [0, 1] } });
    addToStudy(d, 'grid', [a, b, c]);
    deleteRun(d, c);
    setStudyNotes(d, 'grid', 'two\nlines');
    expect(listStudies(d)).toEqual([
      { id: expect.any(Number), name: 'empty', createdAt: expect.any(String), notes: 'nothing yet', runs: 0 },
      { id: expect.any(Number), name: 'grid', createdAt: expect.any(String), notes: 'two\nlines', runs: 2 },
    ]);
    expectLabError(() => setStudyNotes(d, 'nope', 'x'), 'NOT_FOUND', /no study named 'nope'/);
  });
});
