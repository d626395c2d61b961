/** ODE problems with known solutions, shared by the engine tests. */
import { tf, type Tensor } from '../../src-main/engine';

export interface KnownProblem {
  name: string;
  y0: number[];
  f: (t: number, y: Tensor) => Tensor;
  exact: (t: number) => number[];
}

/** y' = −y: exponential decay. */
export const decay: KnownProblem = {
  name: 'exponential decay',
  y0: [1, -2],
  f: (_t, y) => tf.neg(y),
  exact: (t) => [Math.exp(-t), -2 * Math.exp(-t)],
};

/** y' = y·cos t: y = exp(sin t); depends on t, so stage times matter. */
export const expSin: KnownProblem = {
  name: 'y\' = y cos t',
  y0: [1],
  f: (t, y) => tf.mul(y, Math.cos(t)),
  exact: (t) => [Math.exp(Math.sin(t))],
};

/** Logistic growth y' = y(1 − y): nonlinear in y, so implicit steps need a real nonlinear solve. */
export const logistic: KnownProblem = {
  name: 'logistic',
  y0: [0.1],
  f: (_t, y) => tf.mul(y, tf.sub(1, y)),
  exact: (t) => [1 / (1 + 9 * Math.exp(-t))],
};

/** Harmonic oscillator x'' = −ω²x as [x, v]. */
export function oscillator(omega: number): KnownProblem {
  const A = tf.tensor2d([
    [0, -omega * omega],
    [1, 0],
  ]); // y·A for row vector y = [x, v]: [v, −ω²x]
  return {
    name: `harmonic oscillator ω=${omega}`,
    y0: [1, 0],
    f: (_t, y) => tf.reshape(tf.matMul(tf.reshape(y, [1, 2]), A), [2]),
    exact: (t) => [Math.cos(omega * t), -omega * Math.sin(omega * t)],
  };
}

/**
 * A 2-D linear system y' = M y with M = [[−1, 2], [−2, −1]] — complex eigenvalues −1 ± 2i, so
 * exp(Mt) = e^{−t}·[[cos 2t, sin 2t], [−sin 2t, cos 2t]] (the matrix exponential in closed form).
 */
export const linear2d: KnownProblem = (() => {
  const MT = tf.tensor2d([
    [-1, -2],
    [2, -1],
  ]); // Mᵀ, for the row-vector product y·Mᵀ = (M y)ᵀ
  const y0 = [1, 0.5];
  return {
    name: '2-D linear system',
    y0,
    f: (_t, y) => tf.reshape(tf.matMul(tf.reshape(y, [1, 2]), MT), [2]),
    exact: (t) => {
      const e = Math.exp(-t);
      const c = Math.cos(2 * t);
      const s = Math.sin(2 * t);
      return [e * (c * y0[0] + s * y0[1]), e * (-s * y0[0] + c * y0[1])];
    },
  };
})();

/** Max-abs error of a solution tensor against the exact values. */
export function maxError(y: Tensor, exact: number[]): number {
  const v = y.dataSync();
  return Math.max(...exact.map((e, i) => Math.abs(v[i] - e)));
}

/** Least-squares slope of log(err) against log(h): the observed order of convergence. */
export function fittedSlope(hs: number[], errs: number[]): number {
  const x = hs.map(Math.log);
  const y = errs.map(Math.log);
  const mx = x.reduce((a, b) => a + b) / x.length;
  const my = y.reduce((a, b) => a + b) / y.length;
  const num = x.reduce((s, xi, i) => s + (xi - mx) * (y[i] - my), 0);
  const den = x.reduce((s, xi) => s + (xi - mx) ** 2, 0);
  return num / den;
}
