/** Typed errors: where the solver cannot go on, it says why and where — never a hang, never a wrong answer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor, type Variable } from '../../src-main/engine';
import { labErrorOf } from '../lab-error';
import { fixedStepCount } from '../../src-shared/solvers';

beforeAll(async () => {
  await initEngine();
});


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

/** f with a count of its evaluations (odeint's stats are lost when it throws). */
function counted(f: (t: number, y: Tensor) => Tensor) {
  const wrapped = Object.assign(
    (t: number, y: Tensor) => {
      wrapped.calls++;
      return f(t, y);
    },
    { calls: 0 },
  );
  return wrapped;
}

/** y' = y² from y(0) = 1: y = 1/(1 − t), which blows up at t = 1. */
const blowUp = (_t: number, y: Tensor) => tf.square(y);

describe('typed errors', () => {
  it('STEP_UNDERFLOW near a finite-time blow-up, with where it happened', () => {
    const e = labErrorOf(solve(blowUp, [1], [0, 2], { method: 'dopri5', rtol: 1e-4, atol: 1e-4, minStep: 1e-6 }));
    expect(e.code).toBe('STEP_UNDERFLOW');
    // float32 and a 1e-4 tolerance place the numerical blow-up within 1e-3 of the exact one.
    expect(Math.abs((e.details.t as number) - 1)).toBeLessThan(1e-3);
    expect(e.details.stepSize as number).toBeLessThan(1e-6);
    expect(e.message).toMatch(/at t=(0\.99|1\.00)/);
  });

  it('MAX_STEPS for adaptive and fixed-step solves', () => {
    const decay = (_t: number, y: Tensor) => tf.neg(y);
    const opts = { method: 'tsit5', rtol: 1e-5, atol: 1e-5 } as const;
    // The same solve without the limit: its first 10 steps are the limited solve's 10 (it rejects none, so every
    // trial step, which maxSteps counts, is accepted), and its 11th is the trial that exceeds the limit.
    const y0 = tf.tensor1d([1]);
    const { ys, stats } = odeint(decay, y0, [0, 10], opts);
    tf.dispose([y0, ...ys]);
    expect(stats.stepsRejected).toBe(0);
    expect(stats.stepsAccepted).toBeGreaterThan(11); // 14: the 11th step is not one shortened to end at t = 10
    const reached = stats.stepSizes.slice(0, 10).reduce((a, b) => a + b); // 5.24
    const adaptive = labErrorOf(solve(decay, [1], [0, 10], { ...opts, maxSteps: 10 }));
    expect(adaptive.code).toBe('MAX_STEPS');
    expect(adaptive.details.maxSteps).toBe(10);
    expect(adaptive.details.t as number).toBeCloseTo(reached, 12);
    expect(adaptive.details.stepSize as number).toBeCloseTo(stats.stepSizes[10], 12);
    expect(adaptive.message).toContain(`at t=${reached.toPrecision(6)} `);
    expect(adaptive.message).toMatch(/Raise maxSteps \(--max-steps\) or loosen rtol\/atol/);
  });

  it('MAX_STEPS for a fixed-step method up front, saying how many steps the step size needs', () => {
    const f = counted((_t, y) => tf.neg(y));
    const e = labErrorOf(solve(f, [1], [0, 0.5, 1], { method: 'euler', stepSize: 1e-3, maxSteps: 100 }));
    expect(e.code).toBe('MAX_STEPS');
    expect(e.details).toMatchObject({ t: 0, stepSize: 1e-3, maxSteps: 100, stepsNeeded: 1000, method: 'euler' });
    expect(e.message).toMatch(/euler with stepSize 0\.001 needs 1000 steps over \[0, 1\]; maxSteps is 100/);
    expect(e.message).toMatch(/--max-steps.*--step-size/);
    // A fixed-step method has no tolerances to loosen, and no step was wasted finding out.
    expect(e.message).not.toMatch(/rtol|atol/);
    expect(f.calls).toBe(0);
  });

  it('a fixed-step solve takes the step count RunConfig checks maxSteps against (fixedStepCount)', () => {
    for (const stepSize of [0.05, 0.1, 0.3, 1 / 3, 0.7]) {
      const n = fixedStepCount(1, stepSize);
      const y0 = tf.tensor1d([1]);
      const { ys, stats } = odeint((_t, y) => tf.neg(y), y0, [0, 1], { method: 'euler', stepSize, maxSteps: n });
      tf.dispose([y0, ...ys]);
      expect(stats.stepsAccepted, `stepSize ${stepSize}`).toBe(n);
      const e = labErrorOf(solve((_t, y) => tf.neg(y), [1], [0, 1], { method: 'euler', stepSize, maxSteps: n - 1 }));
      expect(e.details.stepsNeeded).toBe(n);
    }
  });

  it('NONLINEAR_SOLVE_FAILED when an implicit step has no solution', () => {
    // Implicit Euler on y' = y² + 1 with h = 1 from y = 1 needs Y = 2 + Y², which has no real root.
    const e = labErrorOf(solve((_t, y) => tf.add(tf.square(y), 1), [1], [0, 1], { method: 'implicit-euler', stepSize: 1 }));
    expect(e.code).toBe('NONLINEAR_SOLVE_FAILED');
    expect(e.details).toMatchObject({ t: 0, stepSize: 1, method: 'implicit-euler' });
  });

  it('NON_FINITE when a fixed-step solution overflows', () => {
    const e = labErrorOf(solve(blowUp, [1], [0, 1, 5], { method: 'euler', stepSize: 0.5 }));
    expect(e.code).toBe('NON_FINITE');
    expect(e.details.t).toBe(5);
  });

  it('INVALID_ARGUMENT names the field', () => {
    const decay = (_t: number, y: Tensor) => tf.neg(y);
    expect(labErrorOf(solve(decay, [1], [0, 1], { method: 'rk5' as never })).message).toMatch(/method/);
    expect(labErrorOf(solve(decay, [1], [0, 1], { method: 'dopri5', stepSize: 0.1 })).message).toMatch(/stepSize/);
    expect(labErrorOf(solve(decay, [1], [0, 1], { method: 'rk4', rtol: -1 })).message).toMatch(/rtol/);
    expect(labErrorOf(solve(decay, [1], [0, 1, 1], { method: 'rk4' })).message).toMatch(/t\[2\]/);
  });
});

/** y' = −y, but f is NaN from t = 0.5 on: the solution cannot be continued past 0.5 by any step size. */
const nanFromHalf = (t: number, y: Tensor) => (t >= 0.5 ? tf.fill(y.shape, NaN) : tf.neg(y));

describe('NON_FINITE at once, not a spin to maxSteps', () => {
  // Before: the adaptive solvers spun to MAX_STEPS on a NaN step size, the fixed-step ones finished every step.
  const methods: [OdeintOptions['method'], number][] = [
    // [method, the most evaluations allowed: the first-step heuristic's, or one step's]
    ['dopri5', 2],
    ['tsit5', 2],
    ['euler', 1],
    ['rk4', 4],
    // Implicit (direct mode): one evaluation finds the parameters, then the first iteration (and f(t0, y0)).
    ['implicit-euler', 2],
    ['crank-nicolson', 3],
    ['implicit-midpoint', 2],
  ];

  it.each(methods)('%s: a NaN initial state', (method, most) => {
    const f = counted((_t, y) => tf.neg(y));
    const e = labErrorOf(solve(f, [1, NaN], [0, 1], { method, maxSteps: 1000 }));
    expect(e.code).toBe('NON_FINITE');
    expect(e.details).toMatchObject({ method });
    expect(e.details.t as number).toBeLessThanOrEqual(0.1); // at t0, or after the first (0.1) step
    expect(e.details.solverStep as number).toBeLessThanOrEqual(1);
    expect(f.calls).toBeLessThanOrEqual(most);
  });

  it.each(['dopri5', 'tsit5', 'bosh3'] as const)('%s: f turns NaN mid-solve (t ≥ 0.5)', (method) => {
    const f = counted(nanFromHalf);
    const e = labErrorOf(solve(f, [1], [0, 1], { method, rtol: 1e-3, atol: 1e-3 }));
    expect(e.code).toBe('NON_FINITE');
    // Where: just before the wall, after a few rejected trials across it (not hundreds of steps up to it).
    expect(e.details.t as number).toBeGreaterThan(0.3);
    expect(e.details.t as number).toBeLessThan(0.5);
    expect(e.details.solverStep as number).toBeLessThan(30);
    expect(e.message).toMatch(/trial steps gave NaN or infinite values.*from a finite state/);
  });

  it('a fixed-step method says which step went NaN', () => {
    const f = counted(nanFromHalf);
    const e = labErrorOf(solve(f, [1], [0, 1], { method: 'euler', stepSize: 0.1 }));
    expect(e.code).toBe('NON_FINITE');
    // The step from 0.5 (f = NaN there) is the sixth; the four after it are not taken.
    expect(e.details).toMatchObject({ solverStep: 6, method: 'euler' });
    expect(e.details.t).toBeCloseTo(0.6, 9);
    expect(f.calls).toBe(6);
  });

  it('an implicit method stops at the first iteration that meets NaN', () => {
    const f = counted(nanFromHalf);
    const e = labErrorOf(solve(f, [1], [0, 1], { method: 'implicit-euler', stepSize: 0.1 }));
    // Implicit Euler's step from 0.4 evaluates f at 0.5: NON_FINITE, not NONLINEAR_SOLVE_FAILED after 50 iterations.
    expect(e.code).toBe('NON_FINITE');
    expect(e.details).toMatchObject({ solverStep: 5, method: 'implicit-euler' });
    expect(e.details.t).toBeCloseTo(0.4, 9);
  });

  it('a few non-finite trials (a glitch, or steps too large) are retried smaller, not fatal', () => {
    // f is NaN for its first 12 evaluations past t = 0.3: three trials in a row there.
    let glitches = 12;
    const f = (t: number, y: Tensor) => (t > 0.3 && glitches-- > 0 ? tf.fill(y.shape, NaN) : tf.neg(y));
    const y0 = tf.tensor1d([1]);
    const { ys, stats } = odeint(f, y0, [0, 1], { method: 'dopri5', rtol: 1e-5, atol: 1e-5 });
    expect(stats.stepsRejected).toBe(3);
    expect(ys[1].dataSync()[0]).toBeCloseTo(Math.exp(-1), 4);
    tf.dispose([y0, ...ys]);
  });

  it('tolerances too tight for float32 norms are rejections ending in STEP_UNDERFLOW, not NON_FINITE', () => {
    // (y0 / 2e-37)² overflows float32: an infinite error ratio from finite values. Before, the first step was NaN.
    const e = labErrorOf(solve((_t, y) => tf.neg(y), [1], [0, 1], { method: 'dopri5', rtol: 1e-37, atol: 1e-37, minStep: 1e-8 }));
    expect(e.code).toBe('STEP_UNDERFLOW');
    expect(e.details.errorRatio).toBe(Infinity);
  });

  it('STEP_UNDERFLOW without a minStep comes at a few ulps of the interval, in tens of rejections, not hundreds', () => {
    // Tolerances float32 cannot meet: rejections shrink h up to 5× each, and only steps too small to change y in
    // float32 (zero error) are accepted. Before, h could fall to 5e-324 near t = 0 and the solve spun to MAX_STEPS.
    const f = counted((_t, y) => tf.neg(y));
    const e = labErrorOf(solve(f, [1], [0, 1], { method: 'dopri5', rtol: 1e-37, atol: 1e-37 }));
    expect(e.code).toBe('STEP_UNDERFLOW');
    expect(e.details.stepSize as number).toBeLessThan(4 * Number.EPSILON);
    expect(e.details.stepSize as number).toBeGreaterThan(Number.EPSILON / 5);
    expect(e.message).toMatch(/\(below 8\.88e-16, a few ulps of the interval's times; error ratio /);
    expect(f.calls).toBeLessThan(1500); // 6 evaluations a trial
    // Near the blow-up at t = 1 too: the floor scales with |t|.
    const near = labErrorOf(solve(blowUp, [1], [0, 2], { method: 'dopri5', rtol: 1e-4, atol: 1e-4 }));
    expect(near.code).toBe('STEP_UNDERFLOW');
    expect(near.message).toMatch(/below 1\.78e-15, a few ulps/);
  });

  it('tolerances outside float32 are INVALID_ARGUMENT naming the field, before any evaluation', () => {
    const f = counted((_t, y) => tf.neg(y));
    const huge = labErrorOf(solve(f, [1], [0, 1], { method: 'dopri5', rtol: 1e300, atol: 1e300 }));
    expect(huge.code).toBe('INVALID_ARGUMENT');
    expect(huge.message).toMatch(/rtol: 1e\+300 is beyond float32/);
    expect(huge.message).toMatch(/atol: 1e\+300 is beyond float32/);
    const tiny = labErrorOf(solve(f, [1], [0, 1], { method: 'tsit5', gradient: 'adjoint', adjointAtol: 1e-300 }));
    expect(tiny.message).toMatch(/adjointAtol: 1e-300 is below float32's range/);
    expect(f.calls).toBe(0);
  });
});

describe('NON_FINITE in the backward pass', () => {
  // Made after initEngine: a variable made at collection time lives on the backend before it.
  let w: Variable;
  beforeAll(() => {
    w = tf.variable(tf.scalar(0.5), true, 'ode_errors_w');
  });
  afterAll(() => w.dispose());
  const dynamics = { get params() { return [w]; }, f: (_t: number, y: Tensor) => tf.mul(y, w) };
  /** Gradient of a loss whose dL/dy(1) is NaN (a diverged loss): what the solver's backward pass receives. */
  const nanGradient = (opts: OdeintOptions) => () => {
    const y0 = tf.tensor1d([1, 2]);
    try {
      const { grads } = tf.variableGrads(() => {
        const { ys } = odeint(dynamics, y0, [0, 1], opts);
        return tf.sum(tf.mul(ys[1], NaN)) as tf.Scalar;
      }, [w]);
      tf.dispose(grads);
    } finally {
      y0.dispose();
    }
  };

  it('the adjoint solve with a NaN adjoint state, at t = 1 before its first step', () => {
    const e = labErrorOf(nanGradient({ method: 'dopri5', gradient: 'adjoint' }));
    expect(e.code).toBe('NON_FINITE');
    // Reported in t (the backward solve runs in s = −t), naming the pass.
    expect(e.details).toMatchObject({ t: 1, solverStep: 0, pass: 'backward', method: 'dopri5' });
    expect(e.message).toMatch(/backward \(adjoint\) solve/);
  });

  it('the implicit-function-theorem gradient of an implicit step, at once', () => {
    const e = labErrorOf(nanGradient({ method: 'implicit-euler', stepSize: 0.5 }));
    // Before: 50 adjoint iterations of NaN, then NONLINEAR_SOLVE_FAILED.
    expect(e.code).toBe('NON_FINITE');
    expect(e.details).toMatchObject({ pass: 'backward', method: 'implicit-euler' });
  });
});
