/**
 * Explicit Runge–Kutta methods as Butcher tableaus — data, not classes. One stepping function
 * (`explicit-rk.ts`) serves them all, as torchdiffeq's `rk_common` and diffrax's solvers do.
 */
import type { MethodName } from '../../../src-shared/solvers';

export interface ButcherTableau {
  /** Stage times as fractions of the step. */
  c: number[];
  /** Strictly lower-triangular stage weights: row i lists a[i][0..i-1]. */
  a: number[][];
  /** Weights of the propagated solution. */
  b: number[];
  /** Error weights b − b̂ of the embedded pair; absent for fixed-step methods. */
  e?: number[];
  /** First-same-as-last: the last stage is f(t + h, y1) and becomes the next step's first stage. */
  fsal: boolean;
}

const dopri5: ButcherTableau = {
  c: [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  a: [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  b: [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
  // b − b̂ with b̂ = [5179/57600, 0, 7571/16695, 393/640, −92097/339200, 187/2100, 1/40].
  e: [71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40],
  fsal: true,
};

// Tsitouras (2011), "Runge–Kutta pairs of order 5(4) satisfying only the first column simplifying assumption",
// with the error weights as used by OrdinaryDiffEq.jl.
const tsit5B = [
  0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081, 2.324710524099774,
];
const tsit5: ButcherTableau = {
  c: [0, 0.161, 0.327, 0.9, 0.9800255409045097, 1, 1],
  a: [
    [],
    [0.161],
    [-0.008480655492356989, 0.335480655492357],
    [2.897153057105493, -6.359448489975075, 4.3622954328695815],
    [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
    [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
    tsit5B,
  ],
  b: [...tsit5B, 0],
  e: [
    -0.001780011052225777, -0.0008164344596567469, 0.007880878010261995, -0.1447110071732629,
    0.5823571654525552, -0.45808210592918697, 1 / 66,
  ],
  fsal: true,
};

const bosh3: ButcherTableau = {
  c: [0, 1 / 2, 3 / 4, 1],
  a: [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  b: [2 / 9, 1 / 3, 4 / 9, 0],
  // b − b̂ with the second-order b̂ = [7/24, 1/4, 1/3, 1/8].
  e: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
  fsal: true,
};

export const EXPLICIT_TABLEAUS: Partial<Record<MethodName, ButcherTableau>> = {
  euler: { c: [0], a: [[]], b: [1], fsal: false },
  midpoint: { c: [0, 1 / 2], a: [[], [1 / 2]], b: [0, 1], fsal: false },
  heun: { c: [0, 1], a: [[], [1]], b: [1 / 2, 1 / 2], fsal: false },
  rk4: {
    c: [0, 1 / 2, 1 / 2, 1],
    a: [[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
    b: [1 / 6, 1 / 3, 1 / 3, 1 / 6],
    fsal: false,
  },
  bosh3,
  dopri5,
  tsit5,
};
