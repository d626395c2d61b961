/**
 * Implicit Euler and the implicit midpoint rule start each stage's nonlinear solve from the previous step's
 * slope (an explicit Euler predictor), not from y0: fewer iterations for the same solution.
 */
import { beforeAll, expect, it } from 'vitest';
import { initEngine, odeint, tf } from '../../src-main/engine';

let rotationMatrix: tf.Tensor2D;
beforeAll(async () => {
  await initEngine();
  rotationMatrix = tf.tensor2d([[0, 1], [-1, 0]]);
});

// Rotation y' = A·y, A = [[0, −1], [1, 0]], on a row vector.
const rotation = (_t: number, y: tf.Tensor) => tf.matMul(y, rotationMatrix);
const h = 0.05;

// A nonlinear, non-autonomous problem on a batch of states; no parameters (so odeint spends no evaluation on
// finding them, and every counted evaluation is the solver's).
const wavy = { f: (t: number, y: tf.Tensor) => tf.mul(tf.sin(tf.add(y, t)), 2), params: [] };

it('implicit Euler: the predicted solve takes fewer iterations for the same steps', () => {
  const y0 = tf.randomNormal([64, 50], 0, 1, 'float32', 1);
  const times = Array.from({ length: 21 }, (_, n) => n * h);
  const run = odeint(wavy, y0, times, { method: 'implicit-euler', stepSize: h });
  // Each step again, alone from the same state: a one-step solve has no previous slope and starts from y_n.
  let unpredicted = 0;
  for (let n = 0; n < 20; n++) {
    const step = odeint(wavy, run.ys[n], [times[n], times[n + 1]], { method: 'implicit-euler', stepSize: h });
    unpredicted += step.stats.nfeForward;
    // Same implicit-Euler step, both solved to implicitTol = 1e-6 (relative).
    const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(step.ys[1], run.ys[n + 1]))).dataSync()[0]);
    expect(gap).toBeLessThan(1e-4);
    tf.dispose(step.ys);
  }
  // Measured: 81 against 100 evaluations (a predictor error O(h²) instead of O(h): about one iteration less).
  expect(run.stats.nfeForward).toBeLessThanOrEqual(0.9 * unpredicted);
  tf.dispose([y0, ...run.ys]);
});

it('implicit steps keep no tensors after a solve, nor after a failed one', () => {
  const y0 = tf.tensor2d([[1, 0]]);
  const before = tf.memory().numTensors;
  const { ys } = odeint(rotation, y0, [0, 0.5, 1], { method: 'implicit-midpoint', stepSize: h });
  tf.dispose(ys);
  // From t = 0.5 the rotation is 80× faster: plain iteration diverges (h·γ·‖80A‖ = 4 or 2) on the step that ends
  // there, the tenth, which has a slope to predict from (implicit Euler) or its own f0 (Crank–Nicolson).
  const stiffening = (t: number, y: tf.Tensor) => tf.mul(rotation(t, y), t < 0.5 ? 1 : 80);
  for (const method of ['implicit-euler', 'crank-nicolson'] as const) {
    expect(() => odeint(stiffening, y0, [0, 1], { method, stepSize: h, implicitMemory: 0 })).toThrow(
      new RegExp(`NONLINEAR_SOLVE_FAILED[^]*${method} step at t=0\\.45`),
    );
  }
  expect(tf.memory().numTensors).toBe(before);
  y0.dispose();
});
