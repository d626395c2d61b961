/**
 * Conv2DBackpropInput micro-benchmark on wasm: each conv's input gradient (dx) against its forward conv, for the
 * paper models' shapes (batch 128). JSON on stdout (and bench/results/conv-backprop-input.json).
 *
 *   npx tsx bench/conv-backprop-input.ts [--repeats 10]
 *
 * trunk/conv2 and trunk/conv3 are the downsampling 4×4/2 convs of odenet-paper/resnet (the model pads by 1 with
 * tf.pad, then convolves 'valid'); the two stride-1 cases are the ODE blocks' 3×3 'same' convs.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, tf } from '../src-main/engine';
import { cpuSince, cpuSnapshot } from './cpu-load';
import { median, saveResults } from './common';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '10' } } });
const repeats = Number(values.repeats);

type Shape4 = [number, number, number, number];
interface Case {
  name: string;
  x: Shape4;
  f: Shape4;
  strides: number;
  pad: 'same' | 'valid';
}

const CASES: Case[] = [
  { name: 'odenet-paper trunk/conv2 4×4/2, 28×28 (padded 26×26) → 13×13, 64→64', x: [128, 28, 28, 64], f: [4, 4, 64, 64], strides: 2, pad: 'valid' },
  { name: 'odenet-paper trunk/conv3 4×4/2, 15×15 (padded 13×13) → 6×6, 64→64', x: [128, 15, 15, 64], f: [4, 4, 64, 64], strides: 2, pad: 'valid' },
  { name: 'odenet-paper ODE block concat-conv 3×3/1 same, 6×6, 65→64', x: [128, 6, 6, 65], f: [3, 3, 65, 64], strides: 1, pad: 'same' },
  { name: 'odenet-mnist ODE block conv 3×3/1 same, 26×26, 6→6', x: [128, 26, 26, 6], f: [3, 3, 6, 6], strides: 1, pad: 'same' },
];

function time(fn: () => tf.Tensor): number {
  const start = performance.now();
  const out = fn();
  out.dataSync(); // wait for the result
  const ms = performance.now() - start;
  out.dispose();
  return ms;
}

function measure(c: Case) {
  const x = tf.randomUniform(c.x, -1, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomUniform(c.f, -0.1, 0.1, 'float32', 2) as tf.Tensor4D;
  const forward = () => tf.conv2d(x, filter, c.strides, c.pad);
  const dy = forward();
  const backpropInput = () =>
    tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }) as tf.Tensor;
  time(forward); // warm-up
  time(backpropInput);
  const tensors = tf.memory().numTensors;
  const f: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < repeats; i++) { // interleaved, so both see the same background load
    f.push(time(forward));
    b.push(time(backpropInput));
  }
  const leaked = tf.memory().numTensors - tensors;
  tf.dispose([x, filter, dy]);
  const round = (v: number) => Number(v.toFixed(1));
  return {
    case: c.name,
    x: c.x,
    filter: c.f,
    strides: c.strides,
    pad: c.pad,
    forwardMs: round(median(f)),
    backpropInputMs: round(median(b)),
    ratio: Number((median(b) / median(f)).toFixed(2)),
    leakedTensors: leaked,
  };
}

const backend = await initEngine({ backend: 'wasm' });
const load = { start: loadavg()[0], end: 0 };
const cpuStart = cpuSnapshot();
const cases = CASES.map(measure);
load.end = loadavg()[0];
saveResults('conv-backprop-input', { benchmark: 'conv-backprop-input', date: new Date().toISOString(), backend: backend.backend, repeats, loadAverage1m: load, cpu: cpuSince(cpuStart), cases });
