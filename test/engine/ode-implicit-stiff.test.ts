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
 * Tolerances: the solves stop once a scaled update is below implicitTol = 1e-6 (in float32), leaving each step
 * within about 1e-6·(1 + |y|) ≤ 2e-6 of its solution. Crank–Nicolson and the midpoint rule hardly damp that in
 * their stiffest modes (a factor −0.96 per step at h·λ = −100), so after 10 steps y(1) is within 2e-5 (measured:
 * 1.1e-5 at most, 20 modes down to −1000), and dy(1)/dλ within 1e-3 relative (measured: 1.5e-5 at most).
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
    [-1000, methods],
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
  // linear equation, the step that sees the update vanish); float32 round-off costs one or two more. On a linear
  // problem Anderson with a history of at least n pairs is GMRES: n distinct modes take about n + 2. Measured
  // (implicit Euler, Crank–Nicolson, midpoint; memory 10 unless given): 3.6, 4.0, 3.9 for λ = −1000; 3.0 each
  // for λ = −30; 7.0 each for 5 modes to −100; 10.2, 8.9, 9.1 for 10 to −100; 11.8, 11.8, 11.0 for 10 to −1000;
  // 18.2, 16.9, 16.0 for 20 to −1000 with memory 20. With the least squares solved by the normal equations (before
  // secant-history.ts) and memory 5: 9, 10.9, 9.4 for 5 modes, 17.1, 12.8, 11.4 for 10 to −100, and 10 to −1000
  // failed with memory 5, 10 or 20 (the normal equations square ΔF's condition number, h·|λ| up to 100).
  it.each([
    [1, 1000, 10, 6],
    [1, 30, 10, 6],
    [5, 100, 10, 9],
    [10, 100, 10, 13],
    [10, 1000, 10, 14],
    [20, 1000, 20, 21],
  ])('n = %d, λ down to −%d, memory %d: every implicit scheme converges in ≤ %d evaluations per step', (n, lambdaMax, memory, bound) => {
    const lambdas = diagonal(n, lambdaMax);
    const rates = tf.tensor1d(lambdas);
    const f = { params: [], f: (t: number, y: Tensor) => tf.mul(rates, tf.sub(y, Math.cos(t))) };
    const y0 = tf.zeros([n]);
    const before = tf.memory().numTensors;
    for (const method of methods) {
      const { ys, stats } = odeint(f, y0, [0, 1], { method, stepSize: h, implicitMemory: memory });
      const perStep = (stats.nfeForward - (method === 'crank-nicolson' ? steps : 0)) / steps;
      expect(perStep, method).toBeLessThanOrEqual(bound);
      const y1 = ys[1].dataSync();
      lambdas.forEach((lambda, i) => {
        expect(Math.abs(y1[i] - exactSolve(method, lambda, 0)), `${method} y(1)[${i}]`).toBeLessThan(2e-5);
      });
      tf.dispose(ys);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([rates, y0]);
  });
});

describe('Anderson acceleration on a nonlinear step with a state smaller than the history', () => {
  // y' = −y³ from 2 at step 1: every ΔF of the one-element state lies in the span of the first, so a history that
  // kept only its first pair would iterate with that secant forever (chord-like, linear convergence): it failed
  // to converge in 50 iterations. Measured: 23, 25, 17 evaluations for the three schemes.
  it.each(methods)('%s converges', (method) => {
    const y0 = tf.tensor1d([2]);
    const before = tf.memory().numTensors;
    const { ys, stats } = odeint({ params: [], f: (_t: number, y: Tensor) => tf.neg(tf.pow(y, 3)) }, y0, [0, 3], {
      method,
      stepSize: 1,
    });
    expect(stats.nfeForward).toBeLessThanOrEqual(30);
    tf.dispose(ys);
    expect(tf.memory().numTensors).toBe(before);
    y0.dispose();
  });
});
