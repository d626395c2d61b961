/**
 * Data-parallel gradients over worker_threads. tfjs's wasm backend runs one thread per process in Node, so a
 * batch is split into contiguous shards, each worker (its own tfjs and its own copy of the model) computes its
 * shard's part of the batch's mean loss and gradients, and the main thread adds them up. Adaptive and implicit
 * solvers take their decisions on error norms summed over all shards (shard-sync.ts), so every shard takes the
 * steps a single process would take for the whole batch. The main thread keeps the model and the optimiser; weights travel
 * with every request, so workers hold no training state. Evaluation uses the same shards for forward passes only
 * (computeLogits).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LabError, requirePositiveInteger } from '../../../src-shared/errors';
import type { ModelSpec } from '../../../src-shared/run-config';
import type { BackendName } from '../backend';
import type { BuildContext } from '../models';
import {
  deserialiseError,
  type FromWorker,
  type GradientRequest,
  type GradientResult,
  type ShardOdeStats,
  type WorkerSetup,
} from './protocol';
import { PEER_FAILED, ShardSync, shardSyncBytes } from './shard-sync';
import { combineShards, shardRanges, totalStats, type CombinedGradients, type ShardRange } from './shards';
import { checkWorkerMemory } from './worker-memory';

export interface GradientPoolOptions {
  spec: ModelSpec;
  ctx: BuildContext;
  /** Backend each worker initialises (default: the engine's automatic choice). */
  backend?: BackendName;
  /** Number of workers; default os.availableParallelism(). */
  workers?: number;
  /** Upper bound on the number of workers (applied after the default). */
  maxWorkers?: number;
}

export interface ShardReport {
  start: number;
  size: number;
  loss: number;
  correct: number;
  /** One entry per ODE solve of the shard's forward pass. */
  odeStats: ShardOdeStats[];
  stepSizes?: number[];
  tensorBytes: number;
  /** Time the worker spent on the shard (the rest of a call's time is messaging and waiting). */
  seconds: number;
}

export interface PoolGradients extends CombinedGradients {
  shards: ShardReport[];
  /**
   * The step's solver work: each shard's statistics summed over its solves, then the maximum over shards (they
   * take the same steps, so it is every shard's).
   */
  nfeForward: number;
  nfeBackward: number;
  stepsAccepted: number;
  stepsRejected: number;
}

/**
 * A batch's solver work from its shards': each shard's statistics summed over its solves, then the maximum over
 * shards (they take the same steps, so it is every shard's).
 */
function batchStats(results: GradientResult[]): Pick<PoolGradients, 'nfeForward' | 'nfeBackward' | 'stepsAccepted' | 'stepsRejected'> {
  const totals = results.map((r) => totalStats(r.odeStats));
  const max = (key: keyof ShardOdeStats) => Math.max(...totals.map((t) => t[key]));
  return {
    nfeForward: max('nfeForward'),
    nfeBackward: max('nfeBackward'),
    stepsAccepted: max('stepsAccepted'),
    stepsRejected: max('stepsRejected'),
  };
}

type Pending = { resolve: (r: GradientResult) => void; reject: (e: Error) => void };

/** One worker thread and the requests it has not answered yet. */
class GradientThread {
  readonly pending = new Map<number, Pending>();
  /** Set once the thread is gone; every later request fails with it. */
  failure: Error | undefined;
  private lastError: Error | undefined;
  readonly ready: Promise<{ backend: string; paramShapes: number[][] }>;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve(m);
        else if (m.type === 'init-failed') reject(deserialiseError(m.error));
        else this.settle(m);
      });
      worker.on('error', (e) => (this.lastError = e));
      worker.on('exit', (code) => {
        const why = this.lastError ? `: ${this.lastError.message}` : '';
        this.fail(
          new LabError('WORKER_FAILED', `gradient worker ${index} exited with code ${code}${why}`, {
            worker: index,
            exitCode: code,
            ...(this.lastError ? { cause: this.lastError.message } : {}),
          }),
        );
        reject(this.failure);
      });
    });
    this.ready.catch(() => {}); // observed by GradientWorkerPool.create; avoid an unhandled rejection here
  }

  request(req: GradientRequest, transfer: ArrayBuffer[]): Promise<GradientResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  /** Rejects everything pending; the first failure sticks. */
  fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  private settle(m: Extract<FromWorker, { type: 'result' | 'failed' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === 'failed') p.reject(deserialiseError(m.error));
    else {
      const { type: _type, id: _id, ...result } = m;
      p.resolve(result);
    }
  }
}

/** The worker's entry: the TypeScript source goes through tsx's loader; a built .js file runs as it is. */
function spawn(setup: WorkerSetup): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const entry = new URL('./gradient-worker.ts', self).href;
    return new Worker(new URL('./tsx-bootstrap.mjs', self), { workerData: { ...setup, entry } });
  }
  return new Worker(new URL('./gradient-worker.js', self), { workerData: setup });
}

function workerCount(opts: GradientPoolOptions): number {
  const requested = opts.workers ?? availableParallelism();
  requirePositiveInteger('workers', requested);
  requirePositiveInteger('maxWorkers', opts.maxWorkers ?? 1);
  const count = Math.min(requested, opts.maxWorkers ?? Infinity);
  checkWorkerMemory(count);
  return count;
}

export class GradientWorkerPool {
  private nextId = 1;
  private disposed = false;
  /** A call is in flight (the norm buffer serves one batch at a time). */
  private busy = false;

  /** Where the shards of a batch add up their error norms (ShardSync); sized for every parameter, three times. */
  private readonly sync: SharedArrayBuffer;

  private constructor(
    private readonly threads_: GradientThread[],
    /** The backend every worker runs on. */
    readonly backend: string,
    private readonly paramShapes: number[][],
  ) {
    const params = paramShapes.reduce((total, shape) => total + shape.reduce((a, b) => a * b, 1), 0);
    this.sync = new SharedArrayBuffer(shardSyncBytes(threads_.length, 3 * params));
  }

  /** Starts the workers and resolves once every one has built its model; rejects (and cleans up) otherwise. */
  static async create(opts: GradientPoolOptions): Promise<GradientWorkerPool> {
    const setup: WorkerSetup = { spec: opts.spec, ctx: opts.ctx, backend: opts.backend };
    const threads = Array.from({ length: workerCount(opts) }, (_, i) => new GradientThread(i, spawn(setup)));
    try {
      const ready = await Promise.all(threads.map((t) => t.ready));
      return new GradientWorkerPool(threads, ready[0].backend, ready[0].paramShapes);
    } catch (e) {
      await Promise.all(threads.map((t) => t.worker.terminate()));
      throw e;
    }
  }

  get size(): number {
    return this.threads_.length;
  }

  /** The worker threads (for monitoring and tests, e.g. to check they are gone after dispose). */
  get threads(): readonly Worker[] {
    return this.threads_.map((t) => t.worker);
  }

  /**
   * Loss, correct count and gradients of the batch's mean cross-entropy at `weights` (`model.params` order).
   * `x` is NHWC with `shape` = [n, h, w, c]. A worker's LabError comes back as that LabError; a worker that
   * dies fails the call with WORKER_FAILED (and every later call: the pool is then unusable).
   */
  async computeGradients(
    weights: Float32Array[],
    x: Float32Array,
    labels: Int32Array,
    shape: readonly [number, number, number, number],
  ): Promise<PoolGradients> {
    const { results, ranges } = await this.runShards('gradients', weights, x, labels, shape);
    const shards = results.map((r, i) => ({ size: ranges[i].end - ranges[i].start, result: r }));
    return {
      ...combineShards(shards),
      shards: results.map((r, i) => ({
        start: ranges[i].start,
        size: shards[i].size,
        loss: r.loss,
        correct: r.correct,
        odeStats: r.odeStats,
        stepSizes: r.stepSizes,
        tensorBytes: r.tensorBytes,
        seconds: r.seconds,
      })),
      ...batchStats(results),
    };
  }

  /**
   * The forward pass alone (evaluation): the batch's logits, row-major [n, classes], and its solver work (every
   * shard takes the whole batch's steps, as in computeGradients). Same errors.
   */
  async computeLogits(
    weights: Float32Array[],
    x: Float32Array,
    labels: Int32Array,
    shape: readonly [number, number, number, number],
  ): Promise<{ logits: Float32Array; nfeForward: number }> {
    const { results } = await this.runShards('logits', weights, x, labels, shape);
    const logits = new Float32Array(results.reduce((n, r) => n + r.logits!.length, 0));
    let offset = 0;
    for (const r of results) {
      logits.set(r.logits!, offset);
      offset += r.logits!.length;
    }
    return { logits, nfeForward: batchStats(results).nfeForward };
  }

  /** Sends each worker its shard of the batch and waits for all of them (results in shard order). */
  private async runShards(
    type: GradientRequest['type'],
    weights: Float32Array[],
    x: Float32Array,
    labels: Int32Array,
    shape: readonly [number, number, number, number],
  ): Promise<{ results: GradientResult[]; ranges: ShardRange[] }> {
    if (this.disposed) throw new LabError('CANCELLED', 'the gradient worker pool has been disposed');
    // A dead thread would never reach its shard's norm reductions and its peers would wait for ever: refuse.
    const dead = this.threads_.find((t) => t.failure);
    if (dead) throw dead.failure;
    if (this.busy) throw new LabError('INVALID_ARGUMENT', 'the pool is already computing a batch: await each call before the next');
    this.check(weights, x, labels, shape);
    const [n, h, w, c] = shape;
    const px = h * w * c;
    // Weights are structured-cloned to every worker (never transferred: the caller keeps them); a view into a
    // larger buffer is copied first so only its own bytes travel.
    const own = weights.map((a) => (a.byteLength === a.buffer.byteLength ? a : a.slice()));
    const ranges = shardRanges(n, this.threads_.length);
    ShardSync.reset(this.sync, ranges.length); // no shard is running: every earlier call has settled
    const calls = ranges.map(({ start, end }, i) => {
      const req: GradientRequest = {
        type,
        id: this.nextId++,
        weights: own,
        x: x.slice(start * px, end * px),
        labels: labels.slice(start, end),
        shape: [end - start, h, w, c],
        share: (end - start) / n,
        shard: i,
        workers: this.threads_.length,
        sync: this.sync,
      };
      return this.threads_[i].request(req, [req.x.buffer as ArrayBuffer, req.labels.buffer as ArrayBuffer]);
    });
    // A thread that dies mid-batch releases its peers too (a shard that throws does so itself, in the worker).
    calls.forEach((call) => call.catch(() => ShardSync.abort(this.sync)));
    // Wait for every shard, then report the first failure by shard order, so errors are deterministic too;
    // a shard stopped because another failed is reported only if nothing else is.
    this.busy = true;
    const settled = await Promise.allSettled(calls).finally(() => (this.busy = false));
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    const original = failures.find((e) => !(e instanceof LabError && e.details?.[PEER_FAILED] === true));
    if (failures.length > 0) throw original ?? failures[0];
    return { results: settled.map((s) => (s as PromiseFulfilledResult<GradientResult>).value), ranges };
  }

  /** Terminates every worker; pending calls reject with CANCELLED. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const cancelled = new LabError('CANCELLED', 'the gradient worker pool was disposed');
    for (const t of this.threads_) t.fail(cancelled);
    await Promise.all(this.threads_.map((t) => t.worker.terminate()));
  }

  private check(weights: Float32Array[], x: Float32Array, labels: Int32Array, shape: readonly number[]): void {
    const bad = (message: string) => new LabError('INVALID_ARGUMENT', message);
    if (weights.length !== this.paramShapes.length) {
      throw bad(`expected ${this.paramShapes.length} weight arrays (the model's parameters), got ${weights.length}`);
    }
    weights.forEach((w, i) => {
      const size = this.paramShapes[i].reduce((a, b) => a * b, 1);
      if (w.length !== size) throw bad(`weight ${i} has ${w.length} values, parameter [${this.paramShapes[i]}] needs ${size}`);
    });
    const [n, h, w, c] = shape;
    if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw bad(`batch shape must be [n, h, w, c] of positive integers, got [${shape}]`);
    }
    if (x.length !== n * h * w * c) throw bad(`x has ${x.length} values, shape [${shape}] needs ${n * h * w * c}`);
    if (labels.length !== n) throw bad(`${labels.length} labels for a batch of ${n}`);
  }
}
