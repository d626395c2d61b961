/**
 * One model's forward+backward on one MNIST batch of 128, repeated with the same weights and images: the same
 * work every repeat (an adaptive solver takes the same steps), so before/after timings compare without the
 * batch-to-batch NFE spread a training run has. JSON on stdout (and bench/results/model-step-<model>.json).
 *
 *   npx tsx bench/model-step.ts --model odenet-paper|resnet|odenet-mnist|… [--repeats 5]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '../src-main/engine';
import { readIdx } from '../src-main/data';
import { buildModel } from '../src-main/engine/models';
import { lossAndGradients } from '../src-main/engine/train/gradients';
import { ModelSpec, type ModelName } from '../src-shared/run-config';
import { cpuSince, cpuSnapshot } from './cpu-load';
import { median, mnistDir, saveResults } from './common';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'odenet-paper' }, repeats: { type: 'string', default: '5' } } });
const repeats = Number(values.repeats);
const BATCH = 128;

const backend = await initEngine({ backend: 'wasm' });
const images = await readIdx(`${mnistDir()}/train-images-idx3-ubyte`);
const labels = await readIdx(`${mnistDir()}/train-labels-idx1-ubyte`);
const x = tf.tidy(() => tf.div(tf.tensor4d(images.data.subarray(0, BATCH * 784), [BATCH, 28, 28, 1], 'float32'), 255));
const y = tf.tensor1d(Array.from(labels.data.subarray(0, BATCH)), 'int32');
const spec = ModelSpec.parse({ name: values.model as ModelName });
const model = buildModel(spec, { classes: 10, imageShape: [28, 28, 1], seed: 1 });

function step() {
  const start = performance.now();
  const r = lossAndGradients(model, x, y, 10);
  r.grads[0].dataSync(); // wait for the result
  const seconds = (performance.now() - start) / 1000;
  const nfe = r.odeStats.map((s) => [s.nfeForward, s.nfeBackward]);
  tf.dispose([r.loss, r.logits, ...r.grads]);
  return { seconds, nfe };
}

step(); // warm-up: kernel setup, first allocations
const load = { start: loadavg()[0], end: 0 };
const cpuStart = cpuSnapshot();
const steps = Array.from({ length: repeats }, step);
load.end = loadavg()[0];
saveResults(`model-step-${values.model}`, {
  benchmark: 'model-step',
  model: values.model,
  date: new Date().toISOString(),
  backend: backend.backend,
  batch: BATCH,
  repeats,
  loadAverage1m: load,
  cpu: cpuSince(cpuStart),
  medianSeconds: Number(median(steps.map((s) => s.seconds)).toFixed(4)),
  seconds: steps.map((s) => Number(s.seconds.toFixed(4))),
  nfe: steps[0].nfe, // [forward, backward] per ODE block: the same every repeat
});
