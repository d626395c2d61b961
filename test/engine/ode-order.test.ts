/**
 * Order of accuracy: halving the step must divide the global error by 2^p. Steps are chosen so every error
 * stays well above float32 round-off (~1e-6 relative after a few hundred steps), or the fitted slope would flatten.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, solverInfo, tf, type MethodName } from '../../src-main/engine';
import { expSin, fittedSlope, logistic, maxError, oscillator, type KnownProblem } from './problems';

beforeAll(async () => {
  await initEngine();
});

/** Steps over [0, T] for each method: coarse enough for float32, fine enough for the asymptotic regime. */
const cases: { method: MethodName; problem: KnownProblem; T: number; steps: number[] }[] = [
  { method: 'euler', problem: expSin, T: 2, steps: [20, 40, 80, 160] },
  { method: 'midpoint', problem: expSin, T: 2, steps: [10, 20, 40, 80] },
  { method: 'heun', problem: expSin, T: 2, steps: [10, 20, 40, 80] },
  { method: 'rk4', problem: oscillator(2), T: 4, steps: [12, 24, 48, 96] },
  { method: 'implicit-euler', problem: logistic, T: 2, steps: [20, 40, 80, 160] },
  { method: 'implicit-euler', problem: expSin, T: 2, steps: [20, 40, 80, 160] },
  { method: 'crank-nicolson', problem: logistic, T: 2, steps: [5, 10, 20, 40] },
  { method: 'crank-nicolson', problem: expSin, T: 2, steps: [10, 20, 40, 80] },
  { method: 'implicit-midpoint', problem: logistic, T: 2, steps: [5, 10, 20, 40] },
  { method: 'implicit-midpoint', problem: expSin, T: 2, steps: [10, 20, 40, 80] },
];

describe('fixed-step methods converge at their order', () => {
  for (const { method, problem, T, steps } of cases) {
    const order = solverInfo(method).order;
    it(`${method} is order ${order} on ${problem.name}`, () => {
      const y0 = tf.tensor1d(problem.y0);
      const hs = steps.map((n) => T / n);
      const errs = hs.map((h) => {
        const { ys, stats } = odeint(problem.f, y0, [0, T], { method, stepSize: h });
        const err = maxError(ys[1], problem.exact(T));
        expect(stats.stepsAccepted).toBe(Math.round(T / h));
        tf.dispose(ys);
        return err;
      });
      y0.dispose();
      const slope = fittedSlope(hs, errs);
      expect(slope, `errors ${errs.map((e) => e.toExponential(2)).join(', ')}`).toBeGreaterThan(order - 0.3);
      expect(slope).toBeLessThan(order + 0.3);
    });
  }
});
