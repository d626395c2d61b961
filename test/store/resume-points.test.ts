/**
 * Resume points in the store: one per run, replaced by the next and deleted by an epoch-end checkpoint that reaches
 * it; checked as db check and import check them; exported with --checkpoints (as version 3) and imported back.
 */
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src-main/store/checkpoints';
import { checkStoredResumePoints, loadResumePoint, resumePointInfo, saveResumePoint } from '../../src-main/store/resume-points';
import { exportRuns } from '../../src-main/store/export';
import { importDocument } from '../../src-main/store/import';
import { getRun } from '../../src-main/store/runs';
import { checkpointBytes, dbsClosedAfterEachTest, expectLabError, insertRunRow, resumePointBytes } from './fixtures';

const db = dbsClosedAfterEachTest();

describe('resume points', () => {
  it('keeps one per run, the latest, until an epoch-end checkpoint at its step or later', () => {
    const d = db();
    const run = insertRunRow(d, { batchesPerEpoch: 10 });
    saveCheckpoint(d, run, { epoch: 1, step: 10, data: checkpointBytes(1, 10) });
    saveResumePoint(d, run, { epoch: 2, batch: 3, step: 13, wallSeconds: 40, data: resumePointBytes(2, 3, 13) });
    saveResumePoint(d, run, { epoch: 2, batch: 7, step: 17, wallSeconds: 52.5, data: resumePointBytes(2, 7, 17) });
    expect(getRun(d, run).resumePoint).toMatchObject({ epoch: 2, batch: 7, step: 17, wallSeconds: 52.5 });
    expect(loadResumePoint(d, run)?.data).toEqual(new Uint8Array(resumePointBytes(2, 7, 17)));
    // An earlier epoch's checkpoint (a run resumed from it) leaves it; the epoch's own end supersedes it.
    saveCheckpoint(d, run, { epoch: 1, step: 10, data: checkpointBytes(1, 10) });
    expect(resumePointInfo(d, run)).not.toBeNull();
    saveCheckpoint(d, run, { epoch: 2, step: 20, data: checkpointBytes(2, 20) });
    expect(resumePointInfo(d, run)).toBeNull();
    expect(loadResumePoint(d, run)).toBeUndefined();
    expect(getRun(d, run).resumePoint).toBeNull();
  });

  it('names each damaged, misfiled or epoch-end one in a check, and refuses to load a damaged one', () => {
    const d = db();
    const [a, b, c, ok] = [insertRunRow(d), insertRunRow(d), insertRunRow(d), insertRunRow(d)];
    const flipped = resumePointBytes(1, 2, 2);
    flipped[flipped.length - 100] ^= 0x10;
    saveResumePoint(d, a, { epoch: 1, batch: 2, step: 2, wallSeconds: 1, data: flipped });
    saveResumePoint(d, b, { epoch: 1, batch: 2, step: 2, wallSeconds: 1, data: resumePointBytes(1, 3, 3) });
    saveResumePoint(d, c, { epoch: 1, batch: 2, step: 2, wallSeconds: 1, data: checkpointBytes(0, 2) });
    saveResumePoint(d, ok, { epoch: 1, batch: 2, step: 2, wallSeconds: 1, data: resumePointBytes(1, 2, 2) });
    expect(checkStoredResumePoints(d)).toEqual({
      checked: 4,
      problems: [
        `resume point of run ${a} (epoch 1, batch 2): the data is not a valid checkpoint: its content does not match its checksum (damaged)`,
        `resume point of run ${b} (epoch 1, batch 2): the data is the resume point of epoch 1, batch 3, step 3, where its row says epoch 1, batch 2, step 2`,
        `resume point of run ${c} (epoch 1, batch 2): the data is the checkpoint of the end of epoch 0, not a resume point inside one`,
      ],
    });
    expectLabError(() => loadResumePoint(d, a), 'STORE_UNREADABLE', new RegExp(`^STORE_UNREADABLE: the resume point of run ${a} \\(epoch 1, batch 2\\) in .* is damaged: .*checksum`));
    d.prepare('UPDATE resume_points SET data = CAST(data AS TEXT) WHERE run_id = ?').run(ok);
    expect(checkStoredResumePoints(d).problems.at(-1)).toBe(`resume point of run ${ok} (epoch 1, batch 2): is stored as text, not bytes (damaged)`);
  });

  it('travels with --checkpoints (export version 3, only then), and a damaged one is refused on import', () => {
    const from = db();
    const run = insertRunRow(from, { batchesPerEpoch: 10 });
    const plain = exportRuns(from, [run], { checkpoints: true });
    expect(plain.version).toBe(2);
    expect(plain.runs[0]).not.toHaveProperty('resumePoint');
    saveResumePoint(from, run, { epoch: 1, batch: 4, step: 4, wallSeconds: 9.25, data: resumePointBytes(1, 4, 4) });
    expect(exportRuns(from, [run]).runs[0]).not.toHaveProperty('resumePoint');
    const doc = exportRuns(from, [run], { checkpoints: true });
    expect(doc.version).toBe(3);
    expect(doc.runs[0].resumePoint).toMatchObject({ epoch: 1, batch: 4, step: 4, wallSeconds: 9.25 });

    const to = db();
    const imported = importDocument(to, doc).runIds.get(run)!;
    expect(loadResumePoint(to, imported)).toMatchObject({ epoch: 1, batch: 4, step: 4, wallSeconds: 9.25, data: new Uint8Array(resumePointBytes(1, 4, 4)) });
    // When it was saved travels too: an export of the import is the export.
    expect(loadResumePoint(to, imported)!.createdAt).toBe(loadResumePoint(from, run)!.createdAt);
    const damaged = structuredClone(doc);
    damaged.runs[0].uid = crypto.randomUUID();
    damaged.runs[0].resumePoint!.data = resumePointBytes(1, 5, 5).toString('base64');
    damaged.runs[0].resumePoint!.bytes = resumePointBytes(1, 5, 5).length;
    expectLabError(() => importDocument(db(), damaged), 'INVALID_ARGUMENT', /runs\.0\.resumePoint\.data: the data is the resume point of epoch 1, batch 5, step 5, where its row says epoch 1, batch 4, step 4$/);
  });
});
