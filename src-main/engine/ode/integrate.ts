/**
 * The integration loop: from y0 at times[0] through every output time, with fixed steps (explicit or implicit
 * methods) or adaptive steps (embedded pairs). Works on tuple states so the adjoint can reuse it unchanged.
 * Only the current state, the FSAL slope and the outputs stay alive between steps.
 */
import { tf, type Variable } from '../tf';
import { LabError } from '../../../src-shared/errors';
import { solverInfo, type MethodName } from '../../../src-shared/solvers';
import { initialStepSize, stepFactor, type ControllerState } from './controller';
import { rkStep } from './explicit-rk';
import { implicitStep } from './implicit-step';
import { IMPLICIT_SCHEMES, type ImplicitScheme } from './implicit-schemes';
import { EXPLICIT_TABLEAUS } from './tableaus';
import { allFinite, errorRatio, type State, type StateDynamics } from './state';

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
}

export interface StepRecord {
  stepsAccepted: number;
  stepsRejected: number;
  stepSizes: number[];
}

/** Relative slack below which the remaining interval is absorbed into the current step. */
const SLIVER = 1e-10;

function nonFinite(t: number, method: string): LabError {
  return new LabError('NON_FINITE', `the ${method} solution became NaN or infinite by t=${t.toPrecision(6)}`, {
    t,
    method,
  });
}

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
  const countStep = (t: number, h: number) => {
    if (++steps > opts.maxSteps) {
      throw new LabError(
        'MAX_STEPS',
        `${opts.method} reached maxSteps=${opts.maxSteps} at t=${t.toPrecision(6)} (step size ` +
          `${h.toPrecision(4)}) before t=${times[times.length - 1]}. Raise maxSteps or loosen rtol/atol.`,
        { t, stepSize: h, maxSteps: opts.maxSteps, method: opts.method },
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
    // Schemes without an explicit slope of their own predict each stage from the previous step's mean slope.
    let slope: State | undefined;
    const implicitAdvance = (scheme: ImplicitScheme, t: number, h: number) => {
      const { y1 } = implicitStep(f, scheme, t, y, h, {
        tol: opts.implicitTol,
        maxIters: opts.implicitMaxIters,
        memory: opts.implicitMemory,
        method: opts.method,
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
        const span = times[i] - times[i - 1];
        const n = Math.max(1, Math.ceil(span / opts.stepSize - 1e-9));
        const h = span / n;
        for (let s = 0; s < n; s++) {
          const t = times[i - 1] + s * h;
          countStep(t, h);
          if (tab) advance(rkStep(f, tab, t, y, h).y1);
          else if (scheme) implicitAdvance(scheme, t, h);
          record.stepsAccepted++;
          record.stepSizes.push(h);
        }
        // One check per output, not per step: a sync per step would stall the pipeline.
        if (!allFinite(y)) throw nonFinite(times[i], opts.method);
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
    let fsal: State | undefined = f(t, y);
    let h = initialStepSize(f, t, y, fsal, controller.k, opts.rtol, opts.atol);
    try {
      for (let i = 1; i < times.length; i++) {
        const end = times[i];
        while (t < end) {
          const remaining = end - t;
          const clamped = h >= remaining * (1 - SLIVER);
          const hTry = clamped ? remaining : h;
          countStep(t, hTry);
          const { y1, err, fLast } = rkStep(f, tab, t, y, hTry, fsal);
          const ratio = errorRatio(err!, y, y1, opts.rtol, opts.atol);
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
            h = hTry * factor;
            if (h < opts.minStep || t + h === t) {
              throw new LabError(
                'STEP_UNDERFLOW',
                `${opts.method} step size fell to ${h.toPrecision(3)} at t=${t.toPrecision(6)} ` +
                  `(minStep ${opts.minStep}; error ratio ${ratio.toPrecision(3)}). The problem may be stiff or ` +
                  'its solution non-finite: try an implicit method or looser tolerances.',
                { t, stepSize: h, minStep: opts.minStep, errorRatio: ratio, method: opts.method },
              );
            }
          }
        }
        outputs.push(y);
      }
    } finally {
      if (fsal) tf.dispose(fsal);
    }
  }
}
