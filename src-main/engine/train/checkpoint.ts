/**
 * Checkpoints as bytes: weights, optimiser state and, with weight averaging, the averaged weights (float32),
 * plus where training stood. Layout (version 2, written since checksums were added):
 *   "ODLCKPT2" | uint32 LE header length | UTF-8 JSON header | zero padding to 4 bytes | float32 payload
 *   (tensors back to back) | SHA-256 of every byte before it (32 bytes).
 * Version 1 ("ODLCKPT1", no checksum) still reads: older checkpoints live on in run stores and folders.
 * Version 3 is version 2 whose header also holds `position`: a resume point, taken inside an epoch (epoch-position.ts).
 * Only such files are written as version 3; epoch-end checkpoints stay version 2. The bump keeps a lab that reads
 * version 2 and ignores header fields it does not know from reading a resume point as the checkpoint of an epoch
 * end (weights part-way into the next epoch, continued from its first batch): it refuses the file as a newer lab's.
 * (Labs before this one refuse this one's files anyway, epoch ends included: their configs hold settings added
 * since, augment and the step schedule's, which those labs do not know.)
 * Tensors are stored by position (the model's stable parameter order), not by tfjs variable name.
 *
 * No tfjs here (nor anything that imports it): the run store checks checkpoint bytes with checkCheckpoint.
 */
import { createHash } from 'node:crypto';
import { LabError } from '../../../src-shared/errors';
import type { DatasetSpec } from '../../../src-shared/config';
import { readStoredConfig, type RunConfig } from '../../../src-shared/run-config';
import { positionProblem, type EpochPosition } from './epoch-position';

const MAGIC_STEM = 'ODLCKPT';
/** The newest version, written for resume points; decodeCheckpoint reads it and every earlier one. */
const VERSION = 3;
/** What an epoch-end checkpoint is written as (see the top of the file). */
const EPOCH_END_VERSION = 2;
const MAGIC_LENGTH = MAGIC_STEM.length + 1;
/** Magic and header length: what every version starts with. */
const PREFIX_LENGTH = MAGIC_LENGTH + 4;
const CHECKSUM_LENGTH = 32;

export interface StoredTensor {
  shape: number[];
  data: Float32Array;
}

/** The training images a run trains on: its dataset, its --train-size (all images when absent) and the subset's seed. */
export interface TrainingSubset {
  dataset: DatasetSpec;
  trainSize?: number;
  seed: number;
}

export function trainingSubsetOf(config: RunConfig): TrainingSubset {
  return { dataset: config.dataset, ...(config.trainSize !== undefined ? { trainSize: config.trainSize } : {}), seed: config.seed };
}

export function sameSubset(a: TrainingSubset, b: TrainingSubset): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The subsets a checkpoint's weights were trained on: more than its own config's when its run continued from
 * another run's checkpoint (`train --resume` with other flags). Checkpoints written before this was recorded
 * give their own config's alone.
 */
export function trainedOnOf(c: Checkpoint): TrainingSubset[] {
  return c.trainedOn ?? [trainingSubsetOf(c.config)];
}

export interface Checkpoint {
  config: RunConfig;
  /** Epochs completed. */
  epoch: number;
  /** Batches completed over the run. */
  step: number;
  weights: StoredTensor[];
  optimizer: { iterations: number; tensors: StoredTensor[] };
  /**
   * The weights' moving average, when the run averages them (config.emaDecay > 0): what its evaluations scored,
   * and over how many updates (fewer than `step` when averaging began at a resume).
   */
  average?: { updates: number; weights: StoredTensor[] };
  trainedOn?: TrainingSubset[];
  /** datasetContentHash of the dataset the run trained on (absent in checkpoints written before it was kept). */
  datasetHash?: string;
  /** Set in a resume point: how far into epoch `epoch + 1` training had got, and that epoch's tallies so far. */
  position?: EpochPosition;
}

interface Header {
  config: RunConfig;
  epoch: number;
  step: number;
  optimizerIterations: number;
  weights: number[][];
  optimizer: number[][];
  /** Absent in checkpoints of runs without averaging (and in those written before it existed). */
  averaged?: number[][];
  averagedUpdates?: number;
  trainedOn?: TrainingSubset[];
  datasetHash?: string;
  position?: EpochPosition;
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const header: Header = {
    config: c.config,
    epoch: c.epoch,
    step: c.step,
    optimizerIterations: c.optimizer.iterations,
    weights: c.weights.map((t) => t.shape),
    optimizer: c.optimizer.tensors.map((t) => t.shape),
    ...(c.average ? { averaged: c.average.weights.map((t) => t.shape), averagedUpdates: c.average.updates } : {}),
    ...(c.trainedOn ? { trainedOn: c.trainedOn } : {}),
    ...(c.datasetHash ? { datasetHash: c.datasetHash } : {}),
    ...(c.position ? { position: c.position } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const tensors = [...c.weights, ...c.optimizer.tensors, ...(c.average?.weights ?? [])];
  const floats = tensors.reduce((n, t) => n + t.data.length, 0);
  // Pad the header so the payload is 4-byte aligned and can be viewed as Float32Array without copying.
  const headerEnd = Math.ceil((PREFIX_LENGTH + json.length) / 4) * 4;
  const checksumAt = headerEnd + floats * 4;
  const bytes = new Uint8Array(checksumAt + CHECKSUM_LENGTH);
  bytes.set(new TextEncoder().encode(`${MAGIC_STEM}${c.position ? VERSION : EPOCH_END_VERSION}`), 0);
  new DataView(bytes.buffer).setUint32(MAGIC_LENGTH, json.length, true);
  bytes.set(json, PREFIX_LENGTH);
  const payload = new Float32Array(bytes.buffer, headerEnd, floats);
  let offset = 0;
  for (const t of tensors) {
    payload.set(t.data, offset);
    offset += t.data.length;
  }
  bytes.set(sha256(bytes.subarray(0, checksumAt)), checksumAt);
  return bytes;
}

/** Where a checkpoint stands, as its header says: what checkCheckpoint reports. */
export interface CheckpointSummary {
  /** The format version: 1 (no checksum), 2, or 3 (a resume point). */
  version: number;
  /** Epochs completed. */
  epoch: number;
  step: number;
  /** A resume point's batches done of the epoch in progress (epoch + 1); absent for an epoch-end checkpoint. */
  batch?: number;
}

interface Layout extends CheckpointSummary {
  header: Header;
  /** Every tensor, in stored order (weights, optimiser state, averaged weights), copied out of the bytes. */
  tensors: StoredTensor[];
  averagedUpdates: number;
}

/** A non-finite value among tensors: which tensor (by position), which element, and the value. */
export interface NonFiniteValue {
  tensor: number;
  element: number;
  value: number;
}

export function firstNonFinite(tensors: StoredTensor[]): NonFiniteValue | undefined {
  for (let tensor = 0; tensor < tensors.length; tensor++) {
    const { data } = tensors[tensor];
    for (let element = 0; element < data.length; element++) {
      if (!Number.isFinite(data[element])) return { tensor, element, value: data[element] };
    }
  }
  return undefined;
}

const isShapeList = (v: unknown): v is number[][] =>
  Array.isArray(v) && v.every((s) => Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0));

/** The header's fields the layout depends on, checked: a damaged version 1 header (no checksum) must not crash. */
function headerProblem(h: unknown): string | undefined {
  if (typeof h !== 'object' || h === null) return 'the header is not a JSON object';
  const r = h as Record<string, unknown>;
  for (const key of ['epoch', 'step', 'optimizerIterations'] as const) {
    if (!Number.isInteger(r[key])) return `header field ${key}: expected an integer, found ${JSON.stringify(r[key])}`;
  }
  for (const key of ['weights', 'optimizer'] as const) {
    if (!isShapeList(r[key])) return `header field ${key}: expected a list of tensor shapes`;
  }
  if (r.averaged !== undefined && !isShapeList(r.averaged)) return 'header field averaged: expected a list of tensor shapes';
  if (typeof r.config !== 'object' || r.config === null) return 'header field config: expected an object';
  if (r.position !== undefined) {
    const problem = positionProblem(r.position);
    if (problem) return `header field position: ${problem}`;
  }
  return undefined;
}

/** A resume point's position is what version 3 adds: a version 3 file without one, or an older one with one, is damaged. */
function versionProblem(version: number, header: Header): string | undefined {
  const hasPosition = header.position !== undefined;
  if (version === 3 && !hasPosition) return 'a version 3 checkpoint (a resume point) without its position in the epoch';
  if (version < 3 && hasPosition) return `a version ${version} checkpoint with a position in an epoch (only version 3 holds one)`;
  return undefined;
}

/**
 * Reads and checks a checkpoint: magic and version, header, length, (version 2) the checksum, and that every
 * stored value is finite. Each failure is INVALID_ARGUMENT `<name> is not a valid checkpoint: <what was expected and found>`.
 */
function readLayout(bytes: Uint8Array, name: string): Layout {
  const corrupt = (what: string) => new LabError('INVALID_ARGUMENT', `${name} is not a valid checkpoint: ${what}`);
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC_LENGTH));
  const version = magic.startsWith(MAGIC_STEM) && /^[1-9]$/.test(magic.slice(MAGIC_STEM.length)) ? Number(magic.slice(MAGIC_STEM.length)) : undefined;
  if (version === undefined) throw corrupt(`expected magic ${MAGIC_STEM}${EPOCH_END_VERSION} (or ${MAGIC_STEM}1, or ${MAGIC_STEM}${VERSION} for a resume point), found ${JSON.stringify(magic)}`);
  if (version > VERSION) {
    throw corrupt(`it is in format ${magic}, written by a newer Neural ODE Lab (this version reads up to ${MAGIC_STEM}${VERSION}); update the lab to use it`);
  }
  const trailer = version >= 2 ? CHECKSUM_LENGTH : 0;
  if (bytes.length < PREFIX_LENGTH + trailer) throw corrupt(`expected at least ${PREFIX_LENGTH + trailer} bytes, found ${bytes.length}`);
  const checksumAt = bytes.length - trailer;
  const checksumMatches = () => trailer === 0 || sha256(bytes.subarray(0, checksumAt)).equals(bytes.subarray(checksumAt));
  const damaged = () => corrupt('its content does not match its checksum (damaged)');

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC_LENGTH, true);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX_LENGTH, PREFIX_LENGTH + headerLength)));
  } catch {
    throw trailer && !checksumMatches() ? damaged() : corrupt('unreadable header');
  }
  const problem = headerProblem(header) ?? versionProblem(version, header);
  if (problem) throw trailer && !checksumMatches() ? damaged() : corrupt(problem);
  const headerEnd = Math.ceil((PREFIX_LENGTH + headerLength) / 4) * 4;
  const averaged = header.averaged ?? [];
  const shapes = [...header.weights, ...header.optimizer, ...averaged];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const floats = sizes.reduce((a, b) => a + b, 0);
  // The length first: a file cut short is better told as such than as "damaged".
  const expected = headerEnd + floats * 4 + trailer;
  if (bytes.length !== expected) throw corrupt(`expected ${expected} bytes, found ${bytes.length}`);
  if (!checksumMatches()) throw damaged();
  // Written before the count was stored, an average covered the whole run: every update.
  const averagedUpdates = header.averagedUpdates ?? header.step;
  if (header.averaged && header.averaged.length !== header.weights.length) {
    throw corrupt(`expected ${header.weights.length} averaged weight tensors, found ${header.averaged.length}`);
  }
  if (header.averaged && !(Number.isInteger(averagedUpdates) && averagedUpdates >= 0 && averagedUpdates <= header.step)) {
    throw corrupt(`the average's update count ${averagedUpdates} is not an integer from 0 to the step, ${header.step}`);
  }
  // Copy into a fresh, aligned buffer: `bytes` may be a view at any offset, e.g. a Node Buffer from a pool
  // (whose .slice() is a view, not a copy — hence the explicit copy constructor).
  const payload = new Float32Array(new Uint8Array(bytes.subarray(headerEnd, headerEnd + floats * 4)).buffer);
  let offset = 0;
  const tensors = shapes.map((shape, i) => {
    const data = payload.subarray(offset, offset + sizes[i]);
    offset += sizes[i];
    return { shape, data };
  });
  // A version 1 file has no checksum to catch flipped bytes, and weights that blew up are no use either way:
  // evaluated or trained on, they give NaN (or an ODE solve that stops at once), not an answer.
  const bad = firstNonFinite(tensors);
  if (bad) {
    const optimizerEnd = header.weights.length + header.optimizer.length;
    const [what, index] =
      bad.tensor < header.weights.length
        ? ['weight', bad.tensor]
        : bad.tensor < optimizerEnd
          ? ['optimizer state', bad.tensor - header.weights.length]
          : ['averaged weight', bad.tensor - optimizerEnd];
    throw corrupt(`${what} tensor ${index} holds ${bad.value} at element ${bad.element} (damaged, or weights that had diverged)`);
  }
  return { version, epoch: header.epoch, step: header.step, ...(header.position ? { batch: header.position.batches } : {}), header, tensors, averagedUpdates };
}

/**
 * Checks checkpoint bytes as decodeCheckpoint does (format, length, checksum, finite values), without decoding the config:
 * for the run store, which keeps checkpoints opaque, to refuse damaged ones on import and report them in a check.
 */
export function checkCheckpoint(bytes: Uint8Array, name = 'checkpoint'): CheckpointSummary {
  const { version, epoch, step, batch } = readLayout(bytes, name);
  return { version, epoch, step, ...(batch !== undefined ? { batch } : {}) };
}

export function decodeCheckpoint(bytes: Uint8Array, name = 'checkpoint'): Checkpoint {
  const { header, tensors, averagedUpdates } = readLayout(bytes, name);
  const optimizerEnd = header.weights.length + header.optimizer.length;
  return {
    // Settings added since it was written read as their defaults; a config this version cannot read, as written.
    config: readStoredConfig(header.config) ?? header.config,
    epoch: header.epoch,
    step: header.step,
    weights: tensors.slice(0, header.weights.length),
    optimizer: { iterations: header.optimizerIterations, tensors: tensors.slice(header.weights.length, optimizerEnd) },
    ...(header.averaged ? { average: { updates: averagedUpdates, weights: tensors.slice(optimizerEnd) } } : {}),
    ...(header.trainedOn ? { trainedOn: header.trainedOn } : {}),
    ...(header.datasetHash ? { datasetHash: header.datasetHash } : {}),
    ...(header.position ? { position: header.position } : {}),
  };
}

/** What of a dataset fixes a model's weight shapes: its images and classes (for shapes: mode and image size). */
function describeImages(spec: DatasetSpec): string {
  return spec.kind === 'shapes' ? `shapes (${spec.mode}, ${spec.imageSize} px)` : spec.kind;
}

/**
 * Whether a run with `config` can start from checkpoint `c`, checked before the run is created: the same model
 * on the same dataset (other weights cannot load; the trainer still checks every shape), and epochs left to train.
 */
export function checkResumable(c: Checkpoint, config: RunConfig, name = 'the checkpoint'): void {
  const refuse = (field: string, why: string) => {
    throw new LabError('INVALID_ARGUMENT', `cannot start from ${name}: ${why}`, { field });
  };
  if (c.config.model.name !== config.model.name) {
    refuse('model.name', `it holds '${c.config.model.name}' weights, this run's model is '${config.model.name}'`);
  }
  // resnet's blocks are its weights (rknet's are steps of the same block: another count still loads).
  if (config.model.name === 'resnet' && c.config.model.blocks !== config.model.blocks) {
    refuse('blocks', `it holds the weights of ${c.config.model.blocks} residual blocks, this run's resnet has ${config.model.blocks} (--blocks)`);
  }
  if (describeImages(c.config.dataset) !== describeImages(config.dataset)) {
    refuse('dataset', `it was trained on ${describeImages(c.config.dataset)}, this run's dataset is ${describeImages(config.dataset)}`);
  }
  if (c.epoch >= config.epochs) {
    // A resume point is inside the epoch after its completed ones: say so, as the other refusals of one do.
    const at = c.position ? `a resume point inside epoch ${c.epoch + 1} (after batch ${c.position.batches})` : `at epoch ${c.epoch}`;
    const needs = c.position ? `, which needs epochs ${c.epoch + 1} or more` : '';
    refuse('epochs', `it is ${at} and this run has epochs ${config.epochs}${needs}, so nothing is left to train; raise --epochs`);
  }
  if (config.optimizer.schedule === 'step') {
    // Step decay finds the epoch from the update count and this run's batches per epoch: the checkpoint's updates,
    // counted in batches of another size or over another training set, would put the milestones elsewhere.
    const changed = (['batchSize', 'trainSize'] as const).find((k) => c.config[k] !== config[k]);
    if (changed) {
      refuse(
        changed,
        `--lr-schedule step places its milestones by the update count over this run's batches per epoch, and the checkpoint's ` +
          `${c.step} updates were made with ${changed} ${JSON.stringify(c.config[changed] ?? 'all')} (this run's: ${JSON.stringify(config[changed] ?? 'all')}); ` +
          `keep its ${changed === 'batchSize' ? '--batch-size' : '--train-size'}, or use another --lr-schedule`,
      );
    }
  }
  if (c.position) {
    // The batches it has done are named by their place in the epoch's shuffled order, which these settings fix.
    const order = (r: RunConfig) => ({ batchSize: r.batchSize, seed: r.seed, trainSize: r.trainSize, dataset: r.dataset });
    const [mine, its] = [order(config), order(c.config)];
    const differs = (Object.keys(mine) as (keyof typeof mine)[]).find((k) => JSON.stringify(mine[k]) !== JSON.stringify(its[k]));
    if (differs) {
      refuse(
        differs,
        `it is a resume point inside epoch ${c.epoch + 1} (after batch ${c.position.batches}), which stands for the same batches only ` +
          `with its run's ${differs} (${JSON.stringify(its[differs])}; this run's: ${JSON.stringify(mine[differs])}); ` +
          `start from one of its epoch-end checkpoints to change it`,
      );
    }
  }
}
