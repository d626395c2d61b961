/**
 * A training step's two ways of getting the gradient — on this thread, or from the gradient worker pool — behind
 * one signature, so the trainer's loop and events are the same either way.
 */
import { tf } from '../tf';
import { openPeakWindow, peakSinceOpened } from '../memory-peak';
import type { Model } from '../models';
import type { GradientWorkerPool } from '../parallel';
import { correctCount } from './metrics';
import { lossAndGradients } from './gradients';
import type { Optimizer } from './optimizers';

/** One step's outcome, however its gradient was computed. */
export interface StepResult {
  loss: number;
  correct: number;
  nfeForward: number;
  nfeBackward: number;
  stepsAccepted: number;
  stepsRejected: number;
  /** The most tensor bytes alive during the step (memory-peak.ts), the epoch's peakTensorBytes. */
  tensorBytes: number;
  /** Accepted step sizes of the first ODE block's forward solve, when known. */
  stepSizes?: number[];
}

export type Step = (batch: { x: tf.Tensor4D; y: tf.Tensor1D; size: number }) => Promise<StepResult>;

/** Forward, backward and optimiser update on this thread. */
export function localStep(model: Model, optimizer: Optimizer, classes: number): Step {
  return async (batch) => {
    openPeakWindow();
    const { loss, logits, grads, odeStats } = lossAndGradients(model, batch.x, batch.y, classes);
    try {
      const lossValue = loss.dataSync()[0];
      const correct = correctCount(logits, batch.y);
      const tensorBytes = peakSinceOpened();
      if (Number.isFinite(lossValue)) optimizer.step(grads);
      const sum = (key: 'nfeForward' | 'nfeBackward' | 'stepsAccepted' | 'stepsRejected') =>
        odeStats.reduce((n, s) => n + s[key], 0);
      return {
        loss: lossValue,
        correct,
        nfeForward: sum('nfeForward'),
        nfeBackward: sum('nfeBackward'),
        stepsAccepted: sum('stepsAccepted'),
        stepsRejected: sum('stepsRejected'),
        tensorBytes,
        stepSizes: odeStats[0]?.stepSizes,
      };
    } finally {
      tf.dispose([loss, logits, ...grads]);
    }
  };
}

/** A batch as the worker pool takes it: flat pixels, int labels and the NHWC shape. */
export function poolInputs(batch: Parameters<Step>[0]): [Float32Array, Int32Array, [number, number, number, number]] {
  const [, h, w, c] = batch.x.shape;
  return [batch.x.dataSync() as Float32Array, batch.y.dataSync() as Int32Array, [batch.size, h, w, c]];
}

/** Gradients from the worker pool (current weights sent with each batch), update on this thread. */
export function pooledStep(model: Model, optimizer: Optimizer, pool: GradientWorkerPool): Step {
  return async (batch) => {
    const weights = model.params.map((p) => p.dataSync() as Float32Array);
    const r = await pool.computeGradients(weights, ...poolInputs(batch));
    if (Number.isFinite(r.loss)) {
      const grads = r.grads.map((g, i) => tf.tensor(g, model.params[i].shape));
      optimizer.step(grads);
      tf.dispose(grads);
    }
    const { loss, correct, nfeForward, nfeBackward, stepsAccepted, stepsRejected } = r;
    // Worker threads share this process: their peaks (taken at about the same time) add to the main thread's tensors.
    const tensorBytes = tf.memory().numBytes + r.shards.reduce((n, s) => n + s.tensorBytes, 0);
    // Shards take the whole batch's steps (their error norms are summed), so any shard's step sizes are the batch's.
    return { loss, correct, nfeForward, nfeBackward, stepsAccepted, stepsRejected, tensorBytes, stepSizes: r.shards[0]?.stepSizes };
  };
}
