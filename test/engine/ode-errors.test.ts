/** Typed errors: where the solver cannot go on, it says why and where — never a hang, never a wrong answer. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor } from '../../src-main/engine';
import { LabError } from '../../src-shared/errors';

beforeAll(async () => {
  await initEngine();
});

function errorOf(run: () => unknown): LabError {
  try {
    run();
  } catch (e) {
    if (e instanceof LabError) return e;
    throw e;
  }
  throw new Error('expected a LabError, but the call succeeded');
}

function solve(f: (t: number, y: Tensor) => Tensor, y0: number[], t: number[], opts: OdeintOptions) {
  return () => {
    const before = tf.memory().numTensors;
    const y = tf.tensor1d(y0);
    try {
      tf.dispose(odeint(f, y, t, opts).ys);
    } finally {
      y.dispose();
      // A failing solve releases everything it allocated.
      expect(tf.memory().numTensors).toBe(before);
    }
  };
}

/** y' = y² from y(0) = 1: y = 1/(1 − t), which blows up at t = 1. */
const blowUp = (_t: number, y: Tensor) => tf.square(y);

describe('typed errors', () => {
  it('STEP_UNDERFLOW near a finite-time blow-up, with where it happened', () => {
    const e = errorOf(solve(blowUp, [1], [0, 2], { method: 'dopri5', rtol: 1e-4, atol: 1e-4, minStep: 1e-6 }));
    expect(e.code).toBe('STEP_UNDERFLOW');
    // float32 and a 1e-4 tolerance place the numerical blow-up within 1e-3 of the exact one.
    expect(Math.abs((e.details.t as number) - 1)).toBeLessThan(1e-3);
    expect(e.details.stepSize as number).toBeLessThan(1e-6);
    expect(e.message).toMatch(/at t=(0\.99|1\.00)/);
  });

  it('MAX_STEPS for adaptive and fixed-step solves', () => {
    const adaptive = errorOf(solve((_t, y) => tf.neg(y), [1], [0, 100], { method: 'tsit5', maxSteps: 10 }));
    expect(adaptive.code).toBe('MAX_STEPS');
    expect(adaptive.details.maxSteps).toBe(10);
    expect(adaptive.details.t as number).toBeGreaterThan(0);
    const fixed = errorOf(solve((_t, y) => tf.neg(y), [1], [0, 1], { method: 'euler', stepSize: 1e-3, maxSteps: 100 }));
    expect(fixed.code).toBe('MAX_STEPS');
    expect(fixed.details.t).toBeCloseTo(0.1, 6);
  });

  it('NONLINEAR_SOLVE_FAILED when an implicit step has no solution', () => {
    // Implicit Euler on y' = y² + 1 with h = 1 from y = 1 needs Y = 2 + Y², which has no real root.
    const e = errorOf(solve((_t, y) => tf.add(tf.square(y), 1), [1], [0, 1], { method: 'implicit-euler', stepSize: 1 }));
    expect(e.code).toBe('NONLINEAR_SOLVE_FAILED');
    expect(e.details).toMatchObject({ t: 0, stepSize: 1, method: 'implicit-euler' });
  });

  it('NON_FINITE when a fixed-step solution overflows', () => {
    const e = errorOf(solve(blowUp, [1], [0, 1, 5], { method: 'euler', stepSize: 0.5 }));
    expect(e.code).toBe('NON_FINITE');
    expect(e.details.t).toBe(5);
  });

  it('INVALID_ARGUMENT names the field', () => {
    const decay = (_t: number, y: Tensor) => tf.neg(y);
    expect(errorOf(solve(decay, [1], [0, 1], { method: 'rk5' as never })).message).toMatch(/method/);
    expect(errorOf(solve(decay, [1], [0, 1], { method: 'dopri5', stepSize: 0.1 })).message).toMatch(/stepSize/);
    expect(errorOf(solve(decay, [1], [0, 1], { method: 'rk4', rtol: -1 })).message).toMatch(/rtol/);
    expect(errorOf(solve(decay, [1], [0, 1, 1], { method: 'rk4' })).message).toMatch(/t\[2\]/);
  });
});
