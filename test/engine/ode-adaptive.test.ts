/** Adaptive methods: global error within 10× the tolerance, and more work for tighter tolerances. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type MethodName } from '../../src-main/engine';
import { decay, linear2d, maxError, oscillator } from './problems';

beforeAll(async () => {
  await initEngine();
});

const methods: MethodName[] = ['bosh3', 'dopri5', 'tsit5'];
const problems = [decay, oscillator(1), linear2d];
// About half an oscillator period; over [0, 5] bosh3 with the I controller accumulates 14× its tolerance.
const T = 3;

describe.each(methods)('%s', (method) => {
  for (const controller of ['I', 'PI'] as const) {
    it.each(problems.map((p) => [p.name, p] as const))(
      `reaches 10× tolerance on %s (${controller} controller)`,
      (_name, problem) => {
        const tol = 1e-4;
        const y0 = tf.tensor1d(problem.y0);
        // Several output times: the solver must land on each exactly.
        const times = [0, 1, 2, T];
        const { ys, stats } = odeint(problem.f, y0, times, { method, rtol: tol, atol: tol, controller });
        times.forEach((t, i) => {
          const exact = problem.exact(t);
          const scale = Math.max(1, ...exact.map(Math.abs));
          expect(maxError(ys[i], exact) / scale, `t=${t}`).toBeLessThan(10 * tol);
        });
        expect(stats.stepSizes.length).toBe(stats.stepsAccepted);
        expect(stats.stepSizes.reduce((a, b) => a + b)).toBeCloseTo(T, 9);
        tf.dispose([y0, ...ys]);
      },
    );
  }

  it('spends more evaluations at tighter tolerances', () => {
    const problem = oscillator(1);
    const y0 = tf.tensor1d(problem.y0);
    const nfe = [1e-2, 1e-3, 1e-4, 1e-5].map((tol) => {
      const { ys, stats } = odeint(problem.f, y0, [0, T], { method, rtol: tol, atol: tol });
      tf.dispose(ys);
      return stats.nfeForward;
    });
    y0.dispose();
    for (let i = 1; i < nfe.length; i++) expect(nfe[i], `NFE ${nfe.join(' → ')}`).toBeGreaterThan(nfe[i - 1]);
  });
});

describe('step-size control', () => {
  it('rejects steps where the solution changes fast and counts every evaluation', () => {
    // y' = −50(y − sin t): a fast transient then a slow phase, which forces both rejections and growth.
    let calls = 0;
    const f = (t: number, y: tf.Tensor) => {
      calls++;
      return tf.mul(tf.sub(y, Math.sin(t)), -50);
    };
    const y0 = tf.tensor1d([1]);
    const { ys, stats } = odeint(f, y0, [0, 3], { method: 'dopri5', rtol: 1e-5, atol: 1e-5 });
    expect(stats.nfeForward).toBe(calls);
    // FSAL: 6 new evaluations per attempted step, plus f0 and the first-step heuristic's one.
    expect(stats.nfeForward).toBe(6 * (stats.stepsAccepted + stats.stepsRejected) + 2);
    const sizes = stats.stepSizes;
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(5);
    tf.dispose([y0, ...ys]);
  });
});
