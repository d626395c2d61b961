/** Stiffness: y' = −1000(y − cos t), h = 0.1 — far outside explicit Euler's stability region (h·λ = −100). */
import { beforeAll, expect, it } from 'vitest';
import { initEngine, odeint, tf } from '../../src-main/engine';

beforeAll(async () => {
  await initEngine();
});

const stiff = (t: number, y: tf.Tensor) => tf.mul(tf.sub(y, Math.cos(t)), -1000);

it('implicit Euler stays bounded and tracks the slow solution', () => {
  const y0 = tf.tensor1d([0]);
  const times = Array.from({ length: 21 }, (_, i) => i * 0.1);
  const { ys } = odeint(stiff, y0, times, { method: 'implicit-euler', stepSize: 0.1 });
  const values = ys.map((y) => y.dataSync()[0]);
  values.forEach((v) => expect(Math.abs(v)).toBeLessThanOrEqual(1.001));
  // After the transient the solution follows cos t up to O(h·|sin t|/1000·1000)=O(h) lag.
  values.slice(2).forEach((v, i) => expect(Math.abs(v - Math.cos(times[i + 2]))).toBeLessThan(0.1));
  tf.dispose([y0, ...ys]);
});

it('explicit Euler blows up on the same problem and step', () => {
  const y0 = tf.tensor1d([0]);
  const { ys } = odeint(stiff, y0, [0, 1], { method: 'euler', stepSize: 0.1 });
  // |1 + hλ| = 99 per step: after 10 steps the error is ~99¹⁰.
  expect(Math.abs(ys[1].dataSync()[0])).toBeGreaterThan(1e15);
  tf.dispose([y0, ...ys]);
});

it('plain fixed-point iteration cannot solve the stiff step, Anderson acceleration can', () => {
  const y0 = tf.tensor1d([0]);
  expect(() => odeint(stiff, y0, [0, 1], { method: 'implicit-euler', stepSize: 0.1, implicitMemory: 0 })).toThrow(
    /NONLINEAR_SOLVE_FAILED/,
  );
  for (const method of ['crank-nicolson', 'implicit-midpoint'] as const) {
    const { ys } = odeint(stiff, y0, [0, 1], { method, stepSize: 0.1 });
    // A-stable but not L-stable: bounded, though the stiff mode is damped only by |(1 − 50)/(1 + 50)| per step.
    expect(Math.abs(ys[1].dataSync()[0])).toBeLessThan(1.5);
    tf.dispose(ys);
  }
  y0.dispose();
});
