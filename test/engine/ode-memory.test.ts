/** Memory: the adjoint's backward pass is O(1) in the number of steps; direct backprop is O(steps); no leaks. */
import { beforeAll, expect, it } from 'vitest';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor } from '../../src-main/engine';

beforeAll(async () => {
  await initEngine();
});

const W = tf.variable(tf.randomNormal([32, 32], 0, 0.2, 'float32', 3), true, 'W_memory');
const f = (_t: number, y: Tensor) => tf.tanh(tf.matMul(y, W));
const y0 = tf.randomNormal([64, 32], 0, 1, 'float32', 4);

/** Peak bytes allocated while computing the gradient of a loss of the solution, for n fixed steps. */
async function peakBytes(steps: number, gradient: 'direct' | 'adjoint'): Promise<number> {
  const opts: OdeintOptions = { method: 'rk4', stepSize: 1 / steps, gradient };
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(odeint({ params: [W], f }, y0, [0, 1], opts).ys[1])));
    tf.dispose([value, ...Object.values(grads)]);
  });
  return info.peakBytes;
}

it('adjoint peak memory for 100 steps is within 10% of 10 steps; direct grows', async () => {
  const adjoint10 = await peakBytes(10, 'adjoint');
  const adjoint100 = await peakBytes(100, 'adjoint');
  expect(adjoint100 / adjoint10).toBeLessThan(1.1);
  const direct10 = await peakBytes(10, 'direct');
  const direct100 = await peakBytes(100, 'direct');
  expect(direct100 / direct10).toBeGreaterThan(3);
});

it('leaks no tensors across repeated solves and gradients, in every mode', () => {
  const modes: OdeintOptions[] = [
    { method: 'dopri5', gradient: 'direct' },
    { method: 'dopri5', gradient: 'adjoint' },
    { method: 'tsit5', rtol: 1e-4, atol: 1e-4, gradient: 'adjoint', controller: 'PI' },
    { method: 'implicit-midpoint', stepSize: 0.25, gradient: 'adjoint' },
    { method: 'crank-nicolson', stepSize: 0.25, gradient: 'direct' },
  ];
  for (const opts of modes) {
    const run = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(odeint({ params: [W], f }, y0, [0, 0.5, 1], opts).ys[2]));
      tf.dispose([value, ...Object.values(grads)]);
      const { ys } = odeint(f, y0, [0, 1], opts);
      tf.dispose(ys);
    };
    run(); // warm-up: tfjs caches some scalars on first use
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors, JSON.stringify(opts)).toBe(before);
  }
});
