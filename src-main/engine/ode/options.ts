/** Turns user-facing odeint options into a complete, validated set, with the catalogue's defaults. */
import { LabError } from '../../../src-shared/errors';
import { describeIssues, RunnableSolverSpec, stepSizeOf, tolerancesOf, type SolverSpecInput } from '../../../src-shared/config';
import type { IntegrateOptions } from './integrate';

export type OdeintOptions = SolverSpecInput & {
  /** Anderson-acceleration memory of the implicit methods' nonlinear solve (0 = plain fixed-point iteration). */
  implicitMemory?: number;
};

export interface ResolvedOptions {
  forward: IntegrateOptions;
  backward: IntegrateOptions;
  gradient: 'direct' | 'adjoint';
}

export function resolveOptions(options: OdeintOptions = {}): ResolvedOptions {
  const { implicitMemory = 10, ...specInput } = options;
  const parsed = RunnableSolverSpec.safeParse(specInput);
  if (!parsed.success) {
    throw new LabError('INVALID_ARGUMENT', `invalid ODE solver options:\n${describeIssues(parsed.error)}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  if (!Number.isInteger(implicitMemory) || implicitMemory < 0) {
    throw new LabError('INVALID_ARGUMENT', `implicitMemory: expected a non-negative integer, got ${implicitMemory}`);
  }
  const spec = parsed.data;
  const { rtol, atol } = tolerancesOf(spec);
  const forward: IntegrateOptions = {
    method: spec.method,
    rtol,
    atol,
    stepSize: stepSizeOf(spec),
    maxSteps: spec.maxSteps,
    minStep: spec.minStep,
    controller: spec.controller,
    implicitTol: spec.implicitTol,
    implicitMaxIters: spec.implicitMaxIters,
    implicitMemory,
  };
  return {
    forward,
    backward: { ...forward, rtol: spec.adjointRtol ?? rtol, atol: spec.adjointAtol ?? atol, reversed: true },
    gradient: spec.gradient,
  };
}

/** Output times as numbers: finite and strictly increasing, at least one. */
export function checkTimes(t: ArrayLike<number>): number[] {
  const times = Array.from(t);
  if (times.length === 0) throw new LabError('INVALID_ARGUMENT', 't: expected at least one time, got none');
  times.forEach((ti, i) => {
    if (!Number.isFinite(ti)) throw new LabError('INVALID_ARGUMENT', `t[${i}]: expected a finite number, got ${ti}`);
    if (i > 0 && !(ti > times[i - 1])) {
      throw new LabError('INVALID_ARGUMENT', `t[${i}]: times must increase strictly, got ${times[i - 1]} then ${ti}`);
    }
  });
  return times;
}
