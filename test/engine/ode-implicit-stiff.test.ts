/**
 * Implicit steps on stiff linear problems, against the discrete solve worked out in float64.
 *
 * On y' = λ(y − cos t) every implicit scheme's step is a linear equation in closed form (below), so the solution
 * the engine should produce, and its derivative in λ by central differences, are known to float64 precision.
 * With h = 0.1 the steps are stiff for these λ (h·|λ| from 1.5 to 100): plain fixed-point iteration, which needs
 * h·γ·|λ| < 1 (γ = 1 for implicit Euler, ½ for the others), diverges on nearly all of them. Anderson acceleration
 * must converge, both in the forward stage solves and in the direct-mode gradient's adjoint solves
 * (implicit-gradient.ts).
 *
 * Tolerances: the solves stop once a scaled update is below implicitTol = 1e-6 (in float32), so y(1), of order 1,
 * is within 1e-5 (measured: 3e-6 at most), and dy(1)/dλ within 1e-3 relative (measured: 1.5e-5 at most).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type Tensor } from '../../src-main/engine';

beforeAll(async () => {
  await initEngine();
});

const methods = ['implicit-euler', 'crank-nicolson', 'implicit-midpoint'] as const;
type Method = (typeof methods)[number];
const h = 0.1;
const steps = 10; // t from 0 to 1

/** One step of y' = λ(y − cos t) from (t, y), in float64: each scheme's linear equation solved exactly. */
function exactStep(method: Method, lambda: number, t: number, y: number): number {
  const z = h * lambda;
  switch (method) {
    case 'implicit-euler': // y1 = y + hλ(y1 − cos t1)
      return (y - z * Math.cos(t + h)) / (1 - z);
    case 'crank-nicolson': // y1 = y + hλ/2·((y − cos t) + (y1 − cos t1))
      return (y + (z / 2) * (y - Math.cos(t) - Math.cos(t + h))) / (1 - z / 2);
    case 'implicit-midpoint': {
      // Y = y + hλ/2·(Y − cos(t + h/2)), y1 = 2Y − y
      const Y = (y - (z / 2) * Math.cos(t + h / 2)) / (1 - z / 2);
      return 2 * Y - y;
    }
  }
}

/** The discrete solution at t = 1 from y(0) = y0. */
function exactSolve(method: Method, lambda: number, y0: number): number {
  let y = y0;
  for (let n = 0; n < steps; n++) y = exactStep(method, lambda, n * h, y);
  return y;
}

describe('direct-mode gradients of stiff implicit steps', () => {
  const y0 = 0.3;

  /** y(1) and dy(1)/dλ from the engine, λ a trainable variable. */
  function engineGradient(method: Method, lambda: number): { y1: number; dLambda: number } {
    const initial = tf.scalar(lambda);
    const rate = tf.variable(initial, true); // keeps its own reference to initial's data
    initial.dispose();
    const f = (t: number, y: Tensor) => tf.mul(rate, tf.sub(y, Math.cos(t)));
    const start = tf.tensor1d([y0]);
    try {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(odeint({ params: [rate], f }, start, [0, 1], { method, stepSize: h, gradient: 'direct' }).ys[1]),
        [rate],
      );
      const result = { y1: value.dataSync()[0], dLambda: grads[rate.name].dataSync()[0] };
      tf.dispose([value, ...Object.values(grads)]);
      return result;
    } finally {
      tf.dispose([rate, start]);
    }
  }

  it.each([
    [-15, methods],
    [-50, methods],
    [-1000, ['crank-nicolson', 'implicit-midpoint'] as const],
  ])('λ = %d: dy(1)/dλ matches central differences of the discrete solve', (lambda, cases) => {
    const before = tf.memory().numTensors;
    for (const method of cases) {
      const { y1, dLambda } = engineGradient(method, lambda);
      expect(Math.abs(y1 - exactSolve(method, lambda, y0)), `${method} y(1)`).toBeLessThan(1e-5);
      const eps = 1e-4 * Math.abs(lambda);
      const fd = (exactSolve(method, lambda + eps, y0) - exactSolve(method, lambda - eps, y0)) / (2 * eps);
      // dy(1)/dλ is 3e-3 to 2e-4 here: a relative test.
      expect(Math.abs(dLambda - fd) / Math.abs(fd), `${method} dy(1)/dλ = ${dLambda}, differences ${fd}`).toBeLessThan(
        1e-3,
      );
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Anderson acceleration on stiff steps', () => {
  /** y' = diag(λ)(y − cos t) from y = 0, λ log-spaced from −1 to −λmax (just −λmax for one component). */
  function diagonal(n: number, lambdaMax: number): number[] {
    return Array.from({ length: n }, (_, i) => -Math.pow(lambdaMax, n === 1 ? 1 : i / (n - 1)));
  }

  // Evaluations per step of the nonlinear solve (Crank–Nicolson's explicit slope f(t0, y0) not counted).
  // A single linear mode takes three in exact arithmetic (a plain step, the secant step that solves a scalar
  // linear equation, the step that sees the update vanish); float32 round-off costs one or two more. Measured
  // (implicit Euler, Crank–Nicolson, midpoint): 4, 5, 4 for λ = −1000; 3.2, 3.1, 3.0 for λ = −30; 9, 10.9, 9.4
  // for 5 modes; 17.1, 12.8, 11.4 for 10. Before, Anderson restarted whenever the residual grew, which on a
  // stiff solve is every iteration until the iterates' scaled size saturates: 9.4, 7.1, 7.9 for λ = −1000,
  // 6.9, 10.5, 10.4 for λ = −30, and no convergence at all for 5 or 10 modes.
  it.each([
    [1, 1000, 6],
    [1, 30, 6],
    [5, 100, 15],
    [10, 100, 20],
  ])('n = %d, λ down to −%d: every implicit scheme converges in ≤ %d evaluations per step', (n, lambdaMax, bound) => {
    const lambdas = diagonal(n, lambdaMax);
    const rates = tf.tensor1d(lambdas);
    const f = { params: [], f: (t: number, y: Tensor) => tf.mul(rates, tf.sub(y, Math.cos(t))) };
    const y0 = tf.zeros([n]);
    const before = tf.memory().numTensors;
    for (const method of methods) {
      const { ys, stats } = odeint(f, y0, [0, 1], { method, stepSize: h });
      const perStep = (stats.nfeForward - (method === 'crank-nicolson' ? steps : 0)) / steps;
      expect(perStep, method).toBeLessThanOrEqual(bound);
      const y1 = ys[1].dataSync();
      lambdas.forEach((lambda, i) => {
        expect(Math.abs(y1[i] - exactSolve(method, lambda, 0)), `${method} y(1)[${i}]`).toBeLessThan(1e-5);
      });
      tf.dispose(ys);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([rates, y0]);
  });
});
