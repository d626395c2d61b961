/**
 * The solver catalogue: one entry per ODE method, shown by the UI and used by the engine to pick defaults.
 * Pure data — this file imports nothing from Node, the DOM or tfjs.
 */

export const METHOD_NAMES = [
  'euler',
  'midpoint',
  'heun',
  'rk4',
  'bosh3',
  'dopri5',
  'tsit5',
  'implicit-euler',
  'crank-nicolson',
  'implicit-midpoint',
] as const;

export type MethodName = (typeof METHOD_NAMES)[number];

export interface SolverInfo {
  name: MethodName;
  label: string;
  /** Order of the global error of the solution the method propagates. */
  order: number;
  kind: 'explicit' | 'implicit';
  /** Adaptive methods carry an embedded lower-order estimate and choose their own step size. */
  adaptive: boolean;
  /** Order of the embedded error estimate (adaptive methods only). */
  embeddedOrder?: number;
  /** Dynamics evaluations per step (explicit) or per nonlinear iteration (implicit). */
  stages: number;
  defaults: { rtol: number; atol: number } | { stepSize: number };
  description: string;
}

const FIXED_STEP_DEFAULT = { stepSize: 0.1 };
const ADAPTIVE_DEFAULT = { rtol: 1e-3, atol: 1e-3 };

export const SOLVERS: readonly SolverInfo[] = [
  {
    name: 'euler', label: 'Explicit Euler', order: 1, kind: 'explicit', adaptive: false, stages: 1,
    defaults: FIXED_STEP_DEFAULT,
    description: 'y₁ = y₀ + h·f(t₀, y₀). A residual block is one Euler step.',
  },
  {
    name: 'midpoint', label: 'Explicit midpoint', order: 2, kind: 'explicit', adaptive: false, stages: 2,
    defaults: FIXED_STEP_DEFAULT,
    description: 'Second-order Runge–Kutta that evaluates f half-way through the step.',
  },
  {
    name: 'heun', label: 'Heun', order: 2, kind: 'explicit', adaptive: false, stages: 2,
    defaults: FIXED_STEP_DEFAULT,
    description: 'Explicit trapezoidal rule: average of the slopes at both ends of an Euler step.',
  },
  {
    name: 'rk4', label: 'Classic RK4', order: 4, kind: 'explicit', adaptive: false, stages: 4,
    defaults: FIXED_STEP_DEFAULT,
    description: 'The classic fourth-order Runge–Kutta method (the RK-Net baseline).',
  },
  {
    name: 'bosh3', label: 'Bogacki–Shampine 3(2)', order: 3, embeddedOrder: 2, kind: 'explicit', adaptive: true,
    stages: 3, defaults: ADAPTIVE_DEFAULT,
    description: 'Adaptive third-order pair with first-same-as-last; cheap at loose tolerances.',
  },
  {
    name: 'dopri5', label: 'Dormand–Prince 5(4)', order: 5, embeddedOrder: 4, kind: 'explicit', adaptive: true,
    stages: 6, defaults: ADAPTIVE_DEFAULT,
    description: 'Adaptive fifth-order pair (torchdiffeq\'s default; the MNIST ODENet write-up).',
  },
  {
    name: 'tsit5', label: 'Tsitouras 5(4)', order: 5, embeddedOrder: 4, kind: 'explicit', adaptive: true,
    stages: 6, defaults: ADAPTIVE_DEFAULT,
    description: 'Adaptive fifth-order pair of Tsitouras (2011) (the Fashion-MNIST write-up).',
  },
  {
    name: 'implicit-euler', label: 'Implicit Euler', order: 1, kind: 'implicit', adaptive: false, stages: 1,
    defaults: FIXED_STEP_DEFAULT,
    description: 'y₁ = y₀ + h·f(t₁, y₁). L-stable: damps stiff modes at any step size.',
  },
  {
    name: 'crank-nicolson', label: 'Crank–Nicolson (trapezoidal)', order: 2, kind: 'implicit', adaptive: false,
    stages: 1, defaults: FIXED_STEP_DEFAULT,
    description: 'y₁ = y₀ + h/2·(f(t₀, y₀) + f(t₁, y₁)): the trapezoidal rule, A-stable.',
  },
  {
    name: 'implicit-midpoint', label: 'Implicit midpoint', order: 2, kind: 'implicit', adaptive: false, stages: 1,
    defaults: FIXED_STEP_DEFAULT,
    description:
      'y₁ = y₀ + h·f(t₀ + h/2, (y₀ + y₁)/2). The shapes write-up calls this scheme "Crank–Nicolson" because ' +
      'it evaluates f half-way through the step; it is the implicit midpoint rule.',
  },
];

export function solverInfo(method: MethodName): SolverInfo {
  const info = SOLVERS.find((s) => s.name === method);
  if (!info) throw new Error(`unknown ODE method '${method}'; expected one of ${METHOD_NAMES.join(', ')}`);
  return info;
}

/**
 * Steps a fixed-step method takes over `span`: the fewest equal steps no larger than `stepSize`. The 1e-9 slack
 * keeps float quotients from adding a step (1 / 0.05 is 20.000000000000004: 20 steps, not 21).
 */
export function fixedStepCount(span: number, stepSize: number): number {
  return Math.max(1, Math.ceil(span / stepSize - 1e-9));
}
