/**
 * Run configuration schemas. Parsing *is* validation: every schema gives field-level errors.
 * Pure zod — no Node, DOM or tfjs imports.
 */
import { z } from 'zod';
import { METHOD_NAMES, solverInfo } from './solvers';

const positive = z.number().finite().positive();

/** How an ODE block is solved: method, tolerances or step size, and how gradients are computed. */
export const SolverSpec = z
  .object({
    method: z.enum(METHOD_NAMES).default('dopri5'),
    rtol: positive.optional(),
    atol: positive.optional(),
    stepSize: positive.optional(),
    maxSteps: z.number().int().positive().default(1000),
    minStep: z.number().finite().nonnegative().default(0),
    controller: z.enum(['I', 'PI']).default('I'),
    gradient: z.enum(['direct', 'adjoint']).default('direct'),
    adjointRtol: positive.optional(),
    adjointAtol: positive.optional(),
    /** Nonlinear solve of the implicit methods: residual tolerance and iteration cap per step. */
    implicitTol: positive.default(1e-6),
    implicitMaxIters: z.number().int().positive().default(50),
  })
  .superRefine((spec, ctx) => {
    const info = solverInfo(spec.method);
    if (!info.adaptive && spec.stepSize === undefined) return; // the catalogue default applies
    if (info.adaptive && spec.stepSize !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['stepSize'],
        message: `'${spec.method}' chooses its own step size; set rtol/atol instead of stepSize`,
      });
    }
  });

export type SolverSpec = z.infer<typeof SolverSpec>;
export type SolverSpecInput = z.input<typeof SolverSpec>;

/** Formats zod issues as `field: reason` lines, the form users see in the CLI and UI. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}
