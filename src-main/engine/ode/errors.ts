/**
 * Where a solve stopped, for the solver's errors. The adjoint's backward solve runs in reversed time s = −t
 * (adjoint.ts): its errors still speak of t, which is what the user knows.
 */
import { LabError } from '../../../src-shared/errors';

export interface SolveSite {
  method: string;
  /** The loop's integration variable: s = −t when `reversed`. */
  t: number;
  /** The step in progress, counted from 1 in this solve; 0 before the first. */
  step: number;
  reversed?: boolean;
}

/** t as the user knows it (0 − s rather than −s: a reversed t = 0 stays +0). */
export function userTime(t: number, reversed: boolean | undefined): number {
  return reversed ? 0 - t : t;
}

/** ", in the backward (adjoint) solve" or nothing: appended to messages. */
export function passNote(reversed: boolean | undefined): string {
  return reversed ? ' of the backward (adjoint) solve' : '';
}

/**
 * NON_FINITE: NaN or ∞ where no step size can help (the trainer ends such a run `diverged`). `what` says what
 * is not finite, naming the method; the message adds where.
 */
export function nonFiniteError(what: string, site: SolveSite, extra: Record<string, unknown> = {}): LabError {
  const t = userTime(site.t, site.reversed);
  const step = site.step === 0 ? 'before the first step' : `step ${site.step}`;
  return new LabError('NON_FINITE', `${what} at t=${t.toPrecision(6)} (${step}${passNote(site.reversed)})`, {
    t,
    // Not `step`: the trainer adds the training step under that name.
    solverStep: site.step,
    method: site.method,
    ...(site.reversed ? { pass: 'backward' } : {}),
    ...extra,
  });
}
