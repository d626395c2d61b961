/**
 * Whether a checkpoint's weights were trained on the copy of its dataset loaded now. A dataset spec names a kind
 * (`mnist`), not its images: a copy imported with `--force` since, or another machine's, loads under the same spec
 * with other content. Each checkpoint records the content hash of the copy it trained on (datasetHash);
 * checkpoints written before it was kept are not judged.
 */
import { datasetContentHash, type Dataset } from '../../data';
import type { DatasetSource } from '../../data/types';
import type { Checkpoint } from './checkpoint';

export interface DatasetChange {
  /** The dataset's name, as messages show it (MNIST). */
  dataset: string;
  /** datasetContentHash of the copy the checkpoint was trained on. */
  trained: string;
  /** datasetContentHash of the copy loaded now. */
  loaded: string;
  /** Where the loaded copy came from. */
  source: string;
}

/** A content hash as messages show it: enough digits to tell two copies apart. */
export function shortHash(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

function describeSource(source: DatasetSource): string {
  const custom = 'custom' in source && source.custom ? ', a custom dataset imported with --force' : '';
  if (source.kind === 'generated') return `generated${source.path ? ` into ${source.path}` : ''}`;
  return `${source.path}${custom}`;
}

/** The checkpoint's dataset and the loaded one when their content differs; undefined when the same or unrecorded. */
export function datasetChange(checkpoint: Checkpoint, dataset: Dataset, loaded = datasetContentHash(dataset)): DatasetChange | undefined {
  if (!checkpoint.datasetHash || checkpoint.datasetHash === loaded) return undefined;
  return { dataset: dataset.name, trained: checkpoint.datasetHash, loaded, source: describeSource(dataset.source) };
}

/** The two copies, as each message below names them. */
function copies(c: DatasetChange, whose: string): string {
  return `${whose} trained on a copy of ${c.dataset} with content hash ${shortHash(c.trained)}; the copy loaded now (${c.source}) has ${shortHash(c.loaded)}`;
}

/** How to get the trained-on copy back: the loaded one is the first source that passed its checks. */
function putBack(c: DatasetChange): string {
  return `put back the copy it trained on (odelab datasets list shows where ${c.dataset} is loaded from; remove or replace that copy)`;
}

/** Why a run that continues (runs resume) on another copy is stopped before its first batch. */
export function continuingMessage(c: DatasetChange, epoch: number): string {
  return (
    `${copies(c, `this run's checkpoint (epoch ${epoch}) was`)}, so continuing would train and test its remaining epochs on other ` +
    `images than its first ones. To continue it, ${putBack(c)}; to train on this copy, start a new run from the checkpoint: ` +
    `odelab runs checkpoint <this run's id> --epoch ${epoch} --out <file>, then odelab train --resume <file>`
  );
}

/** What a new run from a checkpoint (train --resume) is told: fine-tuning on other images can be deliberate. */
export function startingNote(c: DatasetChange): string {
  return `${copies(c, 'the checkpoint this run starts from was')}: this run trains on other images than its weights were trained on`;
}

/** What an evaluation is told: its scores are on other images than the run's own. */
export function evaluationNote(c: DatasetChange, name = 'the checkpoint'): string {
  return `${copies(c, `${name} was`)}: these scores are on other images than the run's own; to score it on those, ${putBack(c)}`;
}
