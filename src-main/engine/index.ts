/**
 * The engine's public API. The engine knows nothing of Electron, HTTP or SQLite: callers hand it tensors
 * and options and get tensors, statistics and typed errors (LabError) back.
 */
import { selectBackend, type BackendSelection } from './backend';

export { tf } from './tf';
export type { Tensor, Variable } from './tf';
export { odeint } from './ode/odeint';
export type { Dynamics, DynamicsFn, ParametrisedDynamics, OdeSolution, OdeStats, OdeintOptions } from './ode/odeint';
export { SOLVERS, METHOD_NAMES, solverInfo } from '../../src-shared/solvers';
export type { MethodName, SolverInfo } from '../../src-shared/solvers';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export { slowBackendNote, type BackendSelection } from './backend';

/** Picks and initialises the best available tfjs backend (or the one asked for) and reports it. */
export async function initEngine(opts: { backend?: BackendName } = {}): Promise<BackendSelection> {
  return selectBackend(opts);
}
