/**
 * A gradient worker (worker_threads entry): builds the model described by workerData, then answers gradient
 * requests one at a time — assign the weights, forward + backward on the shard, send loss, accuracy count,
 * gradients and solver statistics back (or, for evaluation, the forward pass only and its logits). Never imported
 * by the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine, tf } from '..';
import { buildModel, type Model } from '../models';
import { correctCount, crossEntropy } from '../train/metrics';
import { lossAndGradients, type LossAndGradients } from '../train/gradients';
import { setNormReduction } from '../ode/norm-reduction';
import { serialiseError, type FromWorker, type GradientRequest, type WorkerSetup } from './protocol';
import { ShardSync } from './shard-sync';
import { openPeakWindow, peakSinceOpened } from '../memory-peak';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The forward pass alone, in lossAndGradients' shape (no gradients). */
function lossOnly(model: Model, x: tf.Tensor, y: tf.Tensor, classes: number): LossAndGradients {
  let odeStats: LossAndGradients['odeStats'] = [];
  const [loss, logits] = tf.tidy(() => {
    const out = model.forward(x);
    odeStats = out.odeStats;
    return [crossEntropy(out.logits, y, classes), out.logits];
  });
  return { loss: loss as tf.Scalar, logits, grads: [], odeStats };
}

function compute(model: Model, req: GradientRequest): Extract<FromWorker, { type: 'result' }> {
  // First of all: whatever fails below must release the peers waiting for this shard's norms.
  const sync = new ShardSync(req.sync, req.shard, req.workers);
  let x: tf.Tensor4D | undefined;
  let y: tf.Tensor1D | undefined;
  let out: LossAndGradients | undefined;
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
    openPeakWindow();
    out =
      req.type === 'logits'
        ? lossOnly(model, x, y, setup.ctx.classes)
        : lossAndGradients(model, x, y, setup.ctx.classes, req.share);
    const tensorBytes = peakSinceOpened();
    return {
      type: 'result',
      id: req.id,
      loss: out.loss.dataSync()[0],
      correct: correctCount(out.logits, y),
      // Own copies (the cpu backend's dataSync returns its live buffer), so they can be transferred.
      grads: out.grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)),
      ...(req.type === 'logits' ? { logits: Float32Array.from(out.logits.dataSync() as Float32Array) } : {}),
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
      post(result, [...result.grads, ...(result.logits ? [result.logits] : [])].map((a) => a.buffer as ArrayBuffer));
    } catch (e) {
      post({ type: 'failed', id: req.id, error: serialiseError(e) });
    }
  });
  post({ type: 'ready', backend, paramShapes: model.params.map((p) => [...p.shape]) });
}

void main();
