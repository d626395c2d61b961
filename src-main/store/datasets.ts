/** The datasets runs trained on: spec, where the bytes came from, their hash and counts (one row per content). */
import type { DatasetFacts } from '../../src-shared/run-events';
import type { Db } from './database';

/** What the store keeps of a dataset: the facts a run's 'started' event carries. */
export type DatasetRecord = DatasetFacts;

/** The id of this dataset's row, inserting it the first time this spec and content are seen. */
export function upsertDataset(db: Db, d: DatasetRecord): number {
  const spec = JSON.stringify(d.spec);
  db.prepare(
    `INSERT INTO datasets (name, spec_json, source_json, content_hash, classes_json, train_count, test_count, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (spec_json, content_hash) DO NOTHING`,
  ).run(d.name, spec, JSON.stringify(d.source), d.contentHash, JSON.stringify(d.classes), d.trainCount, d.testCount, new Date().toISOString());
  const row = db.prepare('SELECT id FROM datasets WHERE spec_json = ? AND content_hash = ?').get(spec, d.contentHash) as { id: number };
  return row.id;
}

export function getDataset(db: Db, id: number): (DatasetRecord & { id: number }) | null {
  const r = db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as
    | { id: number; name: string; spec_json: string; source_json: string; content_hash: string; classes_json: string; train_count: number; test_count: number }
    | undefined;
  if (!r) return null;
  return {
    id: r.id,
    name: r.name,
    spec: JSON.parse(r.spec_json),
    source: JSON.parse(r.source_json),
    contentHash: r.content_hash,
    classes: JSON.parse(r.classes_json) as string[],
    trainCount: r.train_count,
    testCount: r.test_count,
  };
}
