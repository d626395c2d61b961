/**
 * A gradient worker (worker_threads entry): builds the model described by workerData, then answers gradient
 * requests one at a time — assign the weights, forward + backward on the shard, send loss, accuracy count,
 * gradients and solver statistics back. Never imported by the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine, tf } from '..';
import { buildModel, type Model } from '../models';
import { correctCount } from '../train/metrics';
import { lossAndGradients } from '../train/gradients';
import { setNormReduction } from '../ode/norm-reduction';
import { serialiseError, type FromWorker, type GradientRequest, type WorkerSetup } from './protocol';
import { ShardSync } from './shard-sync';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function compute(model: Model, req: GradientRequest): Extract<FromWorker, { type: 'result' }> {
  // First of all: whatever fails below must release the peers waiting for this shard's norms.
  const sync = new ShardSync(req.sync, req.shard, req.workers);
  let x: tf.Tensor4D | undefined;
  let y: tf.Tensor1D | undefined;
  let out: ReturnType<typeof lossAndGradients> | undefined;
  setNormReduction(sync);
  try {
    if (req.weights.length !== model.params.length) {
      throw new Error(`expected ${model.params.length} weight arrays, got ${req.weights.length}`);
    }
    const start = performance.now();
    model.params.forEach((p, i) => {
      const w = tf.tensor(req.weights[i], p.shape);
      p.assign(w);
      w.dispose();
    });
    x = tf.tensor4d(req.x, req.shape);
    y = tf.tensor1d(req.labels, 'int32');
    out = lossAndGradients(model, x, y, setup.ctx.classes, req.share);
    const tensorBytes = tf.memory().numBytes;
    return {
      type: 'result',
      id: req.id,
      loss: out.loss.dataSync()[0],
      correct: correctCount(out.logits, y),
      // Own copies (the cpu backend's dataSync returns its live buffer), so they can be transferred.
      grads: out.grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)),
      odeStats: out.odeStats.map(({ nfeForward, nfeBackward, stepsAccepted, stepsRejected }) => ({
        nfeForward,
        nfeBackward,
        stepsAccepted,
        stepsRejected,
      })),
      stepSizes: out.odeStats[0]?.stepSizes,
      tensorBytes,
      seconds: (performance.now() - start) / 1000,
    };
  } catch (e) {
    sync.abort();
    throw e;
  } finally {
    setNormReduction(undefined);
    tf.dispose([x, y, ...(out ? [out.loss, out.logits, ...out.grads] : [])].filter((t) => t !== undefined));
  }
}

async function main(): Promise<void> {
  let model: Model;
  let backend: string;
  try {
    backend = (await initEngine({ backend: setup.backend })).backend;
    model = buildModel(setup.spec, setup.ctx);
  } catch (e) {
    post({ type: 'init-failed', error: serialiseError(e) });
    return;
  }
  port.on('message', (req: GradientRequest) => {
    try {
      const result = compute(model, req);
      post(result, result.grads.map((g) => g.buffer as ArrayBuffer));
    } catch (e) {
      post({ type: 'failed', id: req.id, error: serialiseError(e) });
    }
  });
  post({ type: 'ready', backend, paramShapes: model.params.map((p) => [...p.shape]) });
}

void main();
