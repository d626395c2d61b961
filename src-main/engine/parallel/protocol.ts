/**
 * Messages between a GradientWorkerPool and its gradient workers (worker_threads, structured clone). Errors
 * cross as plain data and are rebuilt on the other side, so a LabError keeps its code and details.
 */
import { LabError, type LabErrorCode } from '../../../src-shared/errors';
import type { ModelSpec } from '../../../src-shared/run-config';
import type { BuildContext } from '../models';
import type { BackendName } from '../backend';

/** Everything a worker needs to build the same model as the main thread (workerData). */
export interface WorkerSetup {
  spec: ModelSpec;
  ctx: BuildContext;
  backend?: BackendName;
}

/** Per-shard solver statistics: one entry per ODE solve of the model's forward pass. */
export interface ShardOdeStats {
  nfeForward: number;
  nfeBackward: number;
  stepsAccepted: number;
  stepsRejected: number;
}

export interface GradientRequest {
  /** 'logits': the forward pass only (evaluation): loss, correct count and logits, no gradients. */
  type: 'gradients' | 'logits';
  id: number;
  /** The model's parameters in `model.params` order. */
  weights: Float32Array[];
  /** NHWC images of the shard. */
  x: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
  /** The shard's fraction of the batch: its loss is weighted by it, so shard gradients add up to the batch's. */
  share: number;
  /** This shard's index, the buffer the batch's shards reduce error norms through, laid out for `workers` (ShardSync). */
  shard: number;
  workers: number;
  sync: SharedArrayBuffer;
}

export interface GradientResult {
  /** Mean cross-entropy over the shard. */
  loss: number;
  correct: number;
  /** Gradient of `share` × the shard's mean loss (its part of the batch's mean), one array per parameter. */
  grads: Float32Array[];
  /** 'logits' requests: the shard's logits, row-major [rows, classes]. */
  logits?: Float32Array;
  odeStats: ShardOdeStats[];
  /** Accepted step sizes of the shard's first ODE solve (the run store's step-size history). */
  stepSizes?: number[];
  /** The most tfjs bytes the worker held at once during the step (memory-peak.ts). */
  tensorBytes: number;
  /** The worker's own time for the request (assign weights, forward, backward, read gradients). */
  seconds: number;
}

export type SerialisedError =
  | { kind: 'lab'; code: LabErrorCode; message: string; details: Record<string, unknown> }
  | { kind: 'error'; name: string; message: string; stack?: string };

export type FromWorker =
  | { type: 'ready'; backend: string; paramShapes: number[][] }
  | { type: 'init-failed'; error: SerialisedError }
  | ({ type: 'result'; id: number } & GradientResult)
  | { type: 'failed'; id: number; error: SerialisedError };

export function serialiseError(e: unknown): SerialisedError {
  // LabError prefixes its message with the code; send the bare reason so rebuilding does not double it.
  if (e instanceof LabError) return { kind: 'lab', code: e.code, message: e.reason, details: e.details };
  if (e instanceof Error) return { kind: 'error', name: e.name, message: e.message, stack: e.stack };
  return { kind: 'error', name: 'Error', message: String(e) };
}

export function deserialiseError(s: SerialisedError): Error {
  if (s.kind === 'lab') return new LabError(s.code, s.message, s.details);
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
