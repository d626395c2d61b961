/**
 * The integration loop: from y0 at times[0] through every output time, with fixed steps (explicit or implicit
 * methods) or adaptive steps (embedded pairs). Works on tuple states so the adjoint can reuse it unchanged.
 * Only the current state, the FSAL slope and the outputs stay alive between steps.
 */
import { checkTensorBudget } from '../out-of-memory';
import { tf, type Variable } from '../tf';
import { LabError } from '../../../src-shared/errors';
import { fixedStepCount, solverInfo, type MethodName } from '../../../src-shared/solvers';
import { initialStepSize, stepFactor, type ControllerState } from './controller';
import { nonFiniteError, passNote, userTime, type SolveSite } from './errors';
import { rkStep } from './explicit-rk';
import { implicitStep } from './implicit-step';
import { IMPLICIT_SCHEMES, type ImplicitScheme } from './implicit-schemes';
import { EXPLICIT_TABLEAUS } from './tableaus';
import { allFinite, allFiniteInBatch, errorRatio, type State, type StateDynamics } from './state';

export interface IntegrateOptions {
  method: MethodName;
  rtol: number;
  atol: number;
  /** Fixed-step methods: the largest step; each output interval is split into equal steps no larger. */
  stepSize: number;
  maxSteps: number;
  minStep: number;
  controller: 'I' | 'PI';
  implicitTol: number;
  implicitMaxIters: number;
  implicitMemory: number;
  /**
   * Direct-mode gradients of implicit steps by the implicit function theorem: the parameters, and f as the
   * backward pass should evaluate it (not counted as forward work).
   */
  implicitGradient?: { params: Variable[]; dynamics: StateDynamics };
  /** The adjoint's backward solve, in s = −t (adjoint.ts): errors report t = −s and name the pass. */
  reversed?: boolean;
}

export interface StepRecord {
  stepsAccepted: number;
  stepsRejected: number;
  stepSizes: number[];
}

/** Relative slack below which the remaining interval is absorbed into the current step. */
const SLIVER = 1e-10;

/** The smallest adaptive step, in ulps (2⁻⁵² relative) of the largest |t| the solve covers (Julia's dtmin is one). */
const RESOLVABLE_ULPS = 4;

/**
 * Trial steps with NaN or ∞ values, from a finite state, before the solve gives up as NON_FINITE. One such trial
 * may be a step too large (a stage overflowed): it is rejected and retried 5× smaller. Trials that keep failing
 * over the same stretch (each starting before the last failed one ended) mean f is not finite there.
 */
const NON_FINITE_TRIALS = 5;

/** Returns one state per output time; states[0] is a copy of y0. Caller owns all returned tensors. */
export function integrate(
  f: StateDynamics,
  y0: State,
  times: readonly number[],
  opts: IntegrateOptions,
  record: StepRecord,
): State[] {
  const info = solverInfo(opts.method);
  const outputs: State[] = [y0.map((p) => tf.clone(p))];
  let y = outputs[0];
  let steps = 0;
  const site = (t: number): SolveSite => ({ method: opts.method, t, step: steps, reversed: opts.reversed });
  const shown = (t: number) => userTime(t, opts.reversed);
  const countStep = (t: number, h: number) => {
    // A direct gradient keeps every step's tensors for the backward pass: stop, saying where, before the heap is full.
    checkTensorBudget(() => ({
      message: `${opts.method} step ${steps + 1} at t=${shown(t).toPrecision(6)}${passNote(opts.reversed)}`,
      details: { t: shown(t), stepSize: h, solverStep: steps + 1, method: opts.method },
    }));
    if (++steps > opts.maxSteps) {
      // Adaptive only: integrateFixed knows its step count beforehand and refuses up front.
      throw new LabError(
        'MAX_STEPS',
        `${opts.method} reached maxSteps=${opts.maxSteps} at t=${shown(t).toPrecision(6)} (step size ` +
          `${h.toPrecision(4)}) before t=${shown(times[times.length - 1])}${passNote(opts.reversed)}. ` +
          'Raise maxSteps (--max-steps) or loosen rtol/atol (--rtol, --atol).',
        { t: shown(t), stepSize: h, maxSteps: opts.maxSteps, method: opts.method },
      );
    }
  };
  const advance = (next: State) => {
    if (!outputs.includes(y)) tf.dispose(y);
    y = next;
  };

  try {
    if (info.adaptive) {
      integrateAdaptive();
    } else {
      integrateFixed();
    }
  } catch (e) {
    if (!outputs.includes(y)) tf.dispose(y);
    outputs.forEach((s) => tf.dispose(s));
    throw e;
  }
  return outputs;

  function integrateFixed(): void {
    const tab = EXPLICIT_TABLEAUS[opts.method];
    const scheme = IMPLICIT_SCHEMES[opts.method];
    const counts = times.slice(1).map((ti, i) => fixedStepCount(ti - times[i], opts.stepSize));
    const needed = counts.reduce((a, b) => a + b, 0);
    if (needed > opts.maxSteps) {
      const [from, to] = [shown(times[0]), shown(times[times.length - 1])];
      throw new LabError(
        'MAX_STEPS',
        `${opts.method} with stepSize ${opts.stepSize} needs ${needed} steps over [${from}, ${to}]` +
          `${passNote(opts.reversed)}; maxSteps is ${opts.maxSteps}. Raise maxSteps (--max-steps) to ${needed} or ` +
          'more, or the step size (--step-size).',
        { t: from, stepSize: opts.stepSize, maxSteps: opts.maxSteps, stepsNeeded: needed, method: opts.method },
      );
    }
    // Schemes without an explicit slope of their own predict each stage from the previous step's mean slope.
    let slope: State | undefined;
    const implicitAdvance = (scheme: ImplicitScheme, t: number, h: number) => {
      const { y1 } = implicitStep(f, scheme, t, y, h, {
        tol: opts.implicitTol,
        maxIters: opts.implicitMaxIters,
        memory: opts.implicitMemory,
        site: site(t),
        gradient: opts.implicitGradient,
        previousSlope: slope,
      });
      if (scheme.w0 === 0) {
        const next = tf.tidy(() => y1.map((p, k) => tf.div(tf.sub(p, y[k]), h)));
        if (slope) tf.dispose(slope);
        slope = next;
      }
      advance(y1);
    };
    try {
      for (let i = 1; i < times.length; i++) {
        const n = counts[i - 1];
        const h = (times[i] - times[i - 1]) / n;
        for (let s = 0; s < n; s++) {
          const t = times[i - 1] + s * h;
          countStep(t, h);
          if (tab) advance(rkStep(f, tab, t, y, h).y1);
          else if (scheme) implicitAdvance(scheme, t, h);
          record.stepsAccepted++;
          record.stepSizes.push(h);
          // Every step: NaN stays NaN, so each later step would be wasted work. One reduction, ~0.5 ms on a
          // model's state against hundreds of ms for its step; the error says which step went wrong.
          if (!allFinite(y)) {
            throw nonFiniteError(`the ${opts.method} solution became NaN or infinite`, site(s === n - 1 ? times[i] : t + h));
          }
        }
        outputs.push(y);
      }
    } finally {
      if (slope) tf.dispose(slope);
    }
  }

  function integrateAdaptive(): void {
    const tab = EXPLICIT_TABLEAUS[opts.method]!;
    const controller: ControllerState = { kind: opts.controller, k: (info.embeddedOrder ?? info.order) + 1, previousRatio: 1 };
    let t = times[0];
    // Steps below a few ulps of the interval's times cannot resolve anything more: refusing them there (not only
    // once t + h === t) ends a hopeless solve in ~20 rejections rather than the ~450 that reach 5e-324 at t = 0.
    const resolution = RESOLVABLE_ULPS * Number.EPSILON * Math.max(...times.map(Math.abs));
    const smallest = Math.max(opts.minStep, resolution);
    const floorNote =
      opts.minStep >= resolution ? `minStep ${opts.minStep}` : `below ${resolution.toPrecision(3)}, a few ulps of the interval's times`;
    let fsal: State | undefined = f(t, y);
    let nonFiniteTrials = 0;
    /** Where the last non-finite trial ended: failures that start before it count as the same trouble. */
    let nonFiniteUntil = -Infinity;
    try {
      const atStart = (which: 'state' | 'dynamics') =>
        nonFiniteError(
          which === 'state'
            ? `the ${opts.method} solution is NaN or infinite`
            : `f(t, y) is NaN or infinite where the ${opts.method} solution is finite`,
          site(t),
        );
      let h = initialStepSize(f, t, y, fsal, controller.k, opts.rtol, opts.atol, atStart);
      for (let i = 1; i < times.length; i++) {
        const end = times[i];
        while (t < end) {
          const remaining = end - t;
          const clamped = h >= remaining * (1 - SLIVER);
          const hTry = clamped ? remaining : h;
          countStep(t, hTry);
          const { y1, err, fLast } = rkStep(f, tab, t, y, hTry, fsal);
          // The ratio is read every step anyway: NaN or ∞ in y, the stages, y1 or f(t + h, y1) make it non-finite.
          const ratio = errorRatio(err!, y, y1, opts.rtol, opts.atol);
          // Rarely non-finite: then one look at the values tells a non-finite trial from squares that overflowed
          // float32 (an error far beyond tolerances that tight, an ordinary rejection).
          const nonFiniteTrial = !Number.isFinite(ratio) && !allFiniteInBatch([...y1, ...err!]);
          tf.dispose(err!);
          const accepted = ratio <= 1;
          const factor = stepFactor(ratio, accepted, controller);
          if (accepted) {
            t = clamped ? end : t + hTry;
            advance(y1);
            if (fsal) tf.dispose(fsal);
            fsal = fLast;
            controller.previousRatio = Math.max(ratio, 1e-4);
            record.stepsAccepted++;
            record.stepSizes.push(hTry);
            // A step shortened to hit an output time says little about the next one: keep the larger proposal.
            h = clamped ? Math.max(h, hTry * factor) : hTry * factor;
          } else {
            tf.dispose([...y1, ...(fLast ?? [])]);
            record.stepsRejected++;
            if (nonFiniteTrial) {
              // y and f(t, y) are finite here (checked at t0, then by every accepted step's finite ratio).
              nonFiniteTrials = t < nonFiniteUntil ? nonFiniteTrials + 1 : 1;
              nonFiniteUntil = t + hTry;
              if (nonFiniteTrials >= NON_FINITE_TRIALS) {
                throw nonFiniteError(
                  `${nonFiniteTrials} ${opts.method} trial steps gave NaN or infinite values, the last of size ` +
                    `${hTry.toPrecision(3)} from a finite state: the dynamics f(t, y) is not finite just ahead`,
                  site(t),
                  { stepSize: hTry },
                );
              }
            }
            h = hTry * factor;
            if (h < smallest || t + h === t) {
              throw new LabError(
                'STEP_UNDERFLOW',
                `${opts.method} step size fell to ${h.toPrecision(3)} at t=${shown(t).toPrecision(6)}` +
                  `${passNote(opts.reversed)} (${floorNote}; error ratio ${ratio.toPrecision(3)}). The ` +
                  'problem may be stiff or its solution non-finite: try an implicit method or looser tolerances.',
                { t: shown(t), stepSize: h, minStep: opts.minStep, errorRatio: ratio, method: opts.method },
              );
            }
          }
        }
        // An ∞ can pass the ratio (an overflowing y1 makes the scale ∞ and the error's share 0): once per output.
        if (!allFinite(y)) throw nonFiniteError(`the ${opts.method} solution became NaN or infinite`, site(t));
        outputs.push(y);
      }
    } finally {
      if (fsal) tf.dispose(fsal);
    }
  }
}
