/**
 * SGD (momentum), Adam and AdamW with PyTorch's update rules, written out so their state is explicit tensors:
 * a checkpoint saves and restores them exactly, which a resumed run needs to continue its loss sequence.
 * (tfjs has no AdamW, and its optimisers key state by variable name, which differs between processes.)
 */
import { LabError } from '../../../src-shared/errors';
import { DEFAULT_GAMMA, type OptimizerSpec } from '../../../src-shared/run-config';
import { tf, variableFrom, type Tensor, type Variable } from '../tf';

export interface Optimizer {
  /** Applies one update; `grads[i]` belongs to `params[i]`. Does not dispose the gradients. */
  step(grads: Tensor[]): void;
  /** Number of updates applied so far. */
  readonly iterations: number;
  /** State tensors in a fixed order, for checkpoints (copies; caller disposes). */
  state(): { iterations: number; tensors: Tensor[] };
  restore(state: { iterations: number; tensors: Tensor[] }): void;
  dispose(): void;
}

/** What a schedule needs to know of the run: its updates (cosine's length) and its batches per epoch (step's epochs). */
export interface SchedulePlan {
  totalSteps: number;
  batchesPerEpoch: number;
}

/**
 * The learning rate of update t (0-based), per the spec's schedule. Step: update t is in epoch ⌊t / batchesPerEpoch⌋
 * + 1, decayed once for each milestone before it, as torchdiffeq's learning_rate_with_decay (boundaries at
 * milestone × batches per epoch).
 */
export function learningRate(
  spec: Pick<OptimizerSpec, 'lr' | 'schedule'> & Partial<Pick<OptimizerSpec, 'milestones' | 'gamma'>>,
  t: number,
  plan: SchedulePlan,
): number {
  if (spec.schedule === 'cosine') return spec.lr * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, plan.totalSteps)) / plan.totalSteps));
  if (spec.schedule !== 'step') return spec.lr;
  const passed = (spec.milestones ?? []).filter((m) => t >= m * plan.batchesPerEpoch).length;
  return spec.lr * (spec.gamma ?? DEFAULT_GAMMA) ** passed;
}

/** `plan`: the run's updates and batches per epoch (what the cosine and step schedules are functions of). */
export function createOptimizer(spec: OptimizerSpec, params: Variable[], plan: SchedulePlan = { totalSteps: 1, batchesPerEpoch: 1 }): Optimizer {
  const slots = spec.kind === 'sgd' ? (spec.momentum > 0 ? 1 : 0) : 2;
  // Slot k of parameter i lives at buffers[k][i]; zeros until the first step.
  const buffers: Variable[][] = Array.from({ length: slots }, () =>
    params.map((p) => variableFrom(tf.zerosLike(p), false)),
  );
  let iterations = 0;

  const update = (grads: Tensor[]) => {
    const t = iterations + 1;
    // The schedule depends only on the update count, which checkpoints keep: a resumed run continues it.
    const lr = learningRate(spec, iterations, plan);
    params.forEach((p, i) => {
      // L2 penalty (sgd, adam) is part of the gradient; AdamW decays the weights directly.
      let g = grads[i];
      if (spec.weightDecay > 0 && spec.kind !== 'adamw') g = tf.add(g, tf.mul(p, spec.weightDecay));
      if (spec.kind === 'sgd') {
        if (slots === 0) {
          p.assign(tf.sub(p, tf.mul(g, lr)));
          return;
        }
        const buf = buffers[0][i];
        buf.assign(t === 1 ? g : tf.add(tf.mul(buf, spec.momentum), g));
        p.assign(tf.sub(p, tf.mul(buf, lr)));
        return;
      }
      const [m, v] = [buffers[0][i], buffers[1][i]];
      m.assign(tf.add(tf.mul(m, spec.beta1), tf.mul(g, 1 - spec.beta1)));
      v.assign(tf.add(tf.mul(v, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2)));
      const stepSize = lr / (1 - spec.beta1 ** t);
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - spec.beta2 ** t)), spec.epsilon);
      const decayed = spec.kind === 'adamw' && spec.weightDecay > 0 ? tf.mul(p, 1 - lr * spec.weightDecay) : p;
      p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
    });
  };

  return {
    get iterations() {
      return iterations;
    },
    step(grads) {
      tf.tidy(() => update(grads));
      iterations++;
    },
    state: () => ({ iterations, tensors: buffers.flat().map((b) => tf.clone(b)) }),
    restore(state) {
      const flat = buffers.flat();
      if (state.tensors.length !== flat.length) {
        throw new LabError(
          'INVALID_ARGUMENT',
          `the checkpoint's optimizer state has ${state.tensors.length} tensors, this run's ${spec.kind}` +
            `${spec.kind === 'sgd' ? ` (momentum ${spec.momentum})` : ''} optimizer ${flat.length}: resume with the optimizer it was trained with`,
          { field: 'optimizer' },
        );
      }
      flat.forEach((b, i) => {
        const shape = state.tensors[i].shape;
        if (!tf.util.arraysEqual(shape, b.shape)) {
          throw new LabError('INVALID_ARGUMENT', `the checkpoint's optimizer state tensor ${i} has shape [${shape}], this run's [${b.shape}]`, {
            field: 'optimizer',
          });
        }
      });
      flat.forEach((b, i) => b.assign(state.tensors[i]));
      iterations = state.iterations;
    },
    dispose: () => tf.dispose(buffers.flat()),
  };
}
