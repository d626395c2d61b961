/**
 * Gradients through the solver: direct backprop and the backsolve adjoint, for y0 and for the parameters of a
 * small MLP dynamics, against each other and against central finite differences.
 *
 * Tolerances (float32): a central difference with step ε has round-off error ≈ 2·eps₃₂·|L|/ε ≈ 2·6e-8·10/1e-2
 * ≈ 1e-4 and truncation ≈ ε²·|L'''|/6 ≈ 1e-5, so FD agrees with the analytic gradient to ~2e-3 relative on
 * gradients of order 1. Direct vs adjoint with rk4 at h = 0.05 differ by the backward solve's O(h⁴) error
 * (~1e-5) plus float32 accumulation: 1e-3 relative is a margin of 10×–100×.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, odeint, tf, type OdeintOptions, type Tensor, type Variable } from '../../src-main/engine';

beforeAll(async () => {
  await initEngine();
});

/** f(t, y) = tanh(y·W1 + b1 + t·c)·W2 on a batch of 3 states of width 2. */
function mlp(seed: number) {
  const params = {
    W1: tf.variable(tf.randomNormal([2, 8], 0, 0.6, 'float32', seed), true, `W1_${seed}`),
    b1: tf.variable(tf.randomNormal([8], 0, 0.3, 'float32', seed + 1), true, `b1_${seed}`),
    c: tf.variable(tf.randomNormal([8], 0, 0.3, 'float32', seed + 2), true, `c_${seed}`),
    W2: tf.variable(tf.randomNormal([8, 2], 0, 0.6, 'float32', seed + 3), true, `W2_${seed}`),
  };
  const f = (t: number, y: Tensor) =>
    tf.matMul(tf.tanh(tf.add(tf.add(tf.matMul(y, params.W1), params.b1), tf.mul(params.c, t))), params.W2);
  return { params, list: Object.values(params) as Variable[], f };
}

const model = mlp(7);
const y0 = tf.tensor2d([
  [0.5, -1],
  [1.2, 0.3],
  [-0.7, 0.9],
]);
const times = [0, 0.5, 1];

afterAll(() => tf.dispose([y0, ...model.list]));

/** A loss of every output time, so the adjoint must add dL/dy(t_i) at intermediate times too. */
function loss(ys: Tensor[]): tf.Scalar {
  return tf.addN([tf.mul(tf.sum(tf.square(ys[1])), 0.5), tf.sum(tf.mul(ys[2], tf.tensor1d([1, -2])))]) as tf.Scalar;
}

function gradients(opts: OdeintOptions) {
  const lossOf = (x: Tensor) => loss(odeint({ params: model.list, f: model.f }, x, times, opts).ys);
  const gy0 = tf.grad(lossOf)(y0);
  const { value, grads } = tf.variableGrads(() => lossOf(y0), model.list);
  value.dispose();
  return { gy0, grads };
}

function lossAt(opts: OdeintOptions, x: Tensor = y0): number {
  return tf.tidy(() => loss(odeint(model.f, x, times, opts).ys).dataSync()[0]);
}

function relativeDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-3, tf.max(tf.abs(b)).dataSync()[0]));
}

const rk4: OdeintOptions = { method: 'rk4', stepSize: 0.05 };

describe('direct and adjoint gradients', () => {
  it('agree with central finite differences (rk4)', () => {
    const eps = 1e-2;
    for (const gradient of ['direct', 'adjoint'] as const) {
      const { gy0, grads } = gradients({ ...rk4, gradient });
      // y0, every entry.
      const g = gy0.arraySync() as number[][];
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 2; j++) {
          const bump = (s: number) =>
            tf.tidy(() => lossAt(rk4, tf.add(y0, tf.mul(tf.oneHot([i * 2 + j], 6).reshape([3, 2]), s))));
          const fd = (bump(eps) - bump(-eps)) / (2 * eps);
          expect(Math.abs(fd - g[i][j]), `${gradient} dL/dy0[${i}][${j}]`).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
        }
      }
      // A few entries of every parameter.
      for (const v of model.list) {
        const analytic = grads[v.name].dataSync();
        for (const k of [0, Math.floor(v.size / 2), v.size - 1]) {
          const original = v.dataSync()[k];
          const at = (x: number) => {
            const values = v.dataSync().slice();
            values[k] = x;
            v.assign(tf.tensor(values, v.shape));
            return lossAt(rk4);
          };
          const fd = (at(original + eps) - at(original - eps)) / (2 * eps);
          at(original);
          expect(Math.abs(fd - analytic[k]), `${gradient} dL/d${v.name}[${k}]`).toBeLessThan(
            2e-3 * Math.max(1, Math.abs(fd)),
          );
        }
      }
      tf.dispose([gy0, ...Object.values(grads)]);
    }
  });

  it('direct gradients of implicit steps (implicit function theorem) match finite differences', () => {
    const eps = 1e-2;
    for (const method of ['implicit-euler', 'implicit-midpoint'] as const) {
      const opts: OdeintOptions = { method, stepSize: 0.1, implicitTol: 1e-7, gradient: 'direct' };
      const { gy0, grads } = gradients(opts);
      const g = gy0.arraySync() as number[][];
      const bump = (s: number) => tf.tidy(() => lossAt(opts, tf.add(y0, tf.mul(tf.oneHot([3], 6).reshape([3, 2]), s))));
      expect(Math.abs((bump(eps) - bump(-eps)) / (2 * eps) - g[1][1]), `${method} dL/dy0[1][1]`).toBeLessThan(2e-3);
      const v = model.params.W2;
      const original = v.dataSync()[5];
      const at = (x: number) => {
        const values = v.dataSync().slice();
        values[5] = x;
        v.assign(tf.tensor(values, v.shape));
        return lossAt(opts);
      };
      const fd = (at(original + eps) - at(original - eps)) / (2 * eps);
      at(original);
      expect(Math.abs(fd - grads[v.name].dataSync()[5]), `${method} dL/dW2[5]`).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
      tf.dispose([gy0, ...Object.values(grads)]);
    }
  });

  it.each([
    ['rk4', { method: 'rk4', stepSize: 0.05 }],
    ['dopri5', { method: 'dopri5', rtol: 1e-6, atol: 1e-6 }],
    ['tsit5', { method: 'tsit5', rtol: 1e-6, atol: 1e-6 }],
    ['bosh3', { method: 'bosh3', rtol: 1e-6, atol: 1e-6 }],
    ['euler', { method: 'euler', stepSize: 0.005 }],
    ['midpoint', { method: 'midpoint', stepSize: 0.02 }],
    ['heun', { method: 'heun', stepSize: 0.02 }],
    ['implicit-euler', { method: 'implicit-euler', stepSize: 0.005, implicitTol: 1e-7 }],
    ['crank-nicolson', { method: 'crank-nicolson', stepSize: 0.02, implicitTol: 1e-7 }],
    ['implicit-midpoint', { method: 'implicit-midpoint', stepSize: 0.02, implicitTol: 1e-7 }],
  ] as [string, OdeintOptions][])('agree with each other for %s', (_name, opts) => {
    const direct = gradients({ ...opts, gradient: 'direct' });
    const adjoint = gradients({ ...opts, gradient: 'adjoint' });
    // First-order methods: the adjoint's backward solve differs from the discrete gradient by O(h) — measured
    // up to 1.1e-2 (on c, the coefficient of t) at h = 0.005; the next test checks that it is O(h).
    const tol = opts.method === 'euler' || opts.method === 'implicit-euler' ? 2e-2 : 1e-3;
    expect(relativeDiff(adjoint.gy0, direct.gy0)).toBeLessThan(tol);
    for (const v of model.list) {
      expect(relativeDiff(adjoint.grads[v.name], direct.grads[v.name]), v.name).toBeLessThan(tol);
    }
    tf.dispose([direct.gy0, adjoint.gy0, ...Object.values(direct.grads), ...Object.values(adjoint.grads)]);
  });

  it('for Euler, the adjoint/direct discrepancy is O(h): it halves with the step', () => {
    const discrepancy = (stepSize: number) => {
      const direct = gradients({ method: 'euler', stepSize, gradient: 'direct' });
      const adjoint = gradients({ method: 'euler', stepSize, gradient: 'adjoint' });
      const d = Math.max(...model.list.map((v) => relativeDiff(adjoint.grads[v.name], direct.grads[v.name])));
      tf.dispose([direct.gy0, adjoint.gy0, ...Object.values(direct.grads), ...Object.values(adjoint.grads)]);
      return d;
    };
    const ratio = discrepancy(0.01) / discrepancy(0.005);
    expect(ratio).toBeGreaterThan(1.7);
    expect(ratio).toBeLessThan(2.3);
  });

  it("at a coarse step, a first-order method's adjoint gradient is far off where symmetric rules' is not (the launch warning's figures)", () => {
    // y' = λ(y − cos t), y(0) = 0.3: y(1) = A cos 1 + B sin 1 + (0.3 − A)e^λ with A = λ²/(1+λ²), B = −λ/(1+λ²).
    const exact = (l: number) => {
      const [A, B] = [l ** 2 / (1 + l ** 2), -l / (1 + l ** 2)];
      return A * Math.cos(1) + B * Math.sin(1) + (0.3 - A) * Math.exp(l);
    };
    const trueGradient = (exact(-5 + 1e-6) - exact(-5 - 1e-6)) / 2e-6; // float64: 0.017524
    const lambda = tf.variable(tf.scalar(-5), true, 'lambda_coarse');
    const f = (t: number, y: Tensor) => tf.mul(lambda, tf.sub(y, Math.cos(t)));
    const gradientOf = (method: OdeintOptions['method'], gradient: 'direct' | 'adjoint', stepSize = 0.1) => {
      const y = tf.tensor1d([0.3]);
      const { value, grads } = tf.variableGrads(() => tf.sum(odeint({ params: [lambda], f }, y, [0, 1], { method, stepSize, gradient }).ys[1]) as tf.Scalar, [lambda]);
      const g = grads[lambda.name].dataSync()[0];
      tf.dispose([y, value, grads[lambda.name]]);
      return g;
    };
    try {
      expect(trueGradient).toBeCloseTo(0.017524, 5);
      // Direct: the exact gradient of the discrete solve, itself within the method's O(h) of the true one.
      expect(gradientOf('implicit-euler', 'direct')).toBeCloseTo(0.0128, 3);
      expect(gradientOf('euler', 'direct')).toBeCloseTo(0.0225, 3);
      expect(gradientOf('implicit-euler', 'adjoint')).toBeLessThan(-0.1); // of the wrong sign
      expect(gradientOf('euler', 'adjoint') / trueGradient).toBeGreaterThan(1.25); // ~30% too large
      // Second order and up: the method's own error (rk4 0.2%, implicit midpoint 1.2%, the trapezoidal rule 4.8%).
      for (const [method, within] of [['rk4', 0.01], ['implicit-midpoint', 0.02], ['crank-nicolson', 0.06]] as const) {
        expect(Math.abs(gradientOf(method, 'adjoint') / trueGradient - 1), method).toBeLessThan(within);
      }
      // Implicit midpoint run backwards is its forward step's exact inverse: its adjoint is the direct gradient.
      expect(gradientOf('implicit-midpoint', 'adjoint') / gradientOf('implicit-midpoint', 'direct')).toBeCloseTo(1, 3);
      // Stiffer (λ = −15) at step 0.05: implicit Euler run backwards multiplies by 1/(1 + hλ) = 4 a step.
      tf.tidy(() => lambda.assign(tf.scalar(-15)));
      expect(gradientOf('implicit-euler', 'direct', 0.05)).toBeCloseTo(0.00328, 4);
      expect(Math.abs(gradientOf('implicit-euler', 'adjoint', 0.05))).toBeGreaterThan(1000);
    } finally {
      lambda.dispose();
    }
  });

  it('fills in nfeBackward after the backward pass in both modes', () => {
    for (const gradient of ['direct', 'adjoint'] as const) {
      let stats: ReturnType<typeof odeint>['stats'] | undefined;
      const g = tf.grad((x: Tensor) => {
        const sol = odeint({ params: model.list, f: model.f }, x, [0, 1], { ...rk4, gradient });
        stats = sol.stats;
        expect(sol.stats.nfeBackward).toBe(0);
        return tf.sum(sol.ys[1]);
      })(y0);
      g.dispose();
      expect(stats!.nfeForward).toBe(4 * 20);
      // Direct: one VJP per forward evaluation. Adjoint: one augmented evaluation per backward stage.
      expect(stats!.nfeBackward).toBe(4 * 20);
    }
  });

  it('finds the variables a bare function closes over (adjoint)', () => {
    const viaFunction = tf.variableGrads(
      () => loss(odeint(model.f, y0, times, { ...rk4, gradient: 'adjoint' }).ys),
      model.list,
    );
    const explicit = gradients({ ...rk4, gradient: 'adjoint' });
    for (const v of model.list) expect(relativeDiff(viaFunction.grads[v.name], explicit.grads[v.name])).toBeLessThan(1e-6);
    tf.dispose([viaFunction.value, ...Object.values(viaFunction.grads), explicit.gy0, ...Object.values(explicit.grads)]);
  });
});
