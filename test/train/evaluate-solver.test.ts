/**
 * evaluateCheckpoint with another solver than the run trained with (finer, coarser, another method): real training
 * on generated shapes, real scoring; the forward NFE says which solver ran.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src-main/engine';
import { train } from '../../src-main/engine/train/trainer';
import { evaluateCheckpoint, sameForwardSolver } from '../../src-main/engine/train/evaluate-checkpoint';
import { SolverSpec } from '../../src-shared/config';
import type { RunConfig } from '../../src-shared/run-config';
import type { Dataset } from '../../src-main/data';
import { engineWithTinyDataset, tinyConfig } from './fixtures';

let dataset: Dataset;
let backend: string;
/** One epoch of shapes-odenet with Euler at step 0.25 (4 evaluations per forward pass), and one of mlp. */
let odenet: Uint8Array;
let mlp: Uint8Array;

async function checkpointOf(config: RunConfig): Promise<Uint8Array> {
  const checkpoints: Uint8Array[] = [];
  const ended = await train(config, { dataset, backend, onEvent: () => {}, saveCheckpoint: (bytes) => void checkpoints.push(bytes) });
  expect(ended.status).toBe('completed');
  return checkpoints[0];
}

beforeAll(async () => {
  ({ backend, dataset } = await engineWithTinyDataset());
  odenet = await checkpointOf(tinyConfig({ epochs: 1 }));
  mlp = await checkpointOf(tinyConfig({ epochs: 1, model: { name: 'mlp' } }));
});

const spec = (input: Parameters<typeof SolverSpec.parse>[0]) => SolverSpec.parse(input);

describe('evaluateCheckpoint with another solver', () => {
  it('scores with the trained solver as without one, and says which solver scored', async () => {
    const plain = await evaluateCheckpoint(odenet, dataset);
    expect(plain.nfeForwardMean).toBe(4);
    expect(plain.solver).toMatchObject({ method: 'euler', stepSize: 0.25 });
    expect(plain).not.toHaveProperty('trainedSolver');
    // The same solver given (its gradient mode aside, which a forward pass does not use): the same scores.
    const same = await evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'euler', stepSize: 0.25, gradient: 'adjoint' }) });
    expect(same).not.toHaveProperty('trainedSolver');
    expect({ ...same, solver: undefined }).toEqual({ ...plain, solver: undefined });
  });

  it('takes the fixed step it is given: 1/step evaluations per forward pass (rk4: four per step)', async () => {
    const numTensors = tf.memory().numTensors;
    const finer = await evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'euler', stepSize: 0.05 }) });
    expect(finer.nfeForwardMean).toBe(20);
    expect(finer.solver).toMatchObject({ method: 'euler', stepSize: 0.05 });
    expect(finer.trainedSolver).toMatchObject({ method: 'euler', stepSize: 0.25 });
    expect(finer.accuracy).toBeGreaterThanOrEqual(0);
    expect(finer.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(finer.loss)).toBe(true);
    const rk4 = await evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'rk4', stepSize: 0.25 }), limit: 30 });
    expect(rk4).toMatchObject({ count: 30, nfeForwardMean: 16, solver: { method: 'rk4' } });
    // An adaptive method chooses its own steps.
    const adaptive = await evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'dopri5', rtol: 1e-3 }), limit: 30 });
    expect(adaptive.nfeForwardMean).toBeGreaterThan(0);
    expect(adaptive.trainedSolver).toMatchObject({ method: 'euler' });
    expect(tf.memory().numTensors).toBe(numTensors);
  });

  it('refuses a solver a run could not use, and one for a model without an ODE block, before building the model', async () => {
    const numTensors = tf.memory().numTensors;
    await expect(evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'euler', stepSize: 0.05, maxSteps: 10 }) })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('euler with stepSize 0.05 needs 20 steps over [0, 1]; maxSteps is 10'),
      details: { field: 'model.solver.maxSteps' },
    });
    await expect(evaluateCheckpoint(odenet, dataset, { solver: spec({ method: 'dopri5', rtol: 1e-60 }) })).rejects.toMatchObject({
      details: { field: 'model.solver.rtol' },
    });
    await expect(evaluateCheckpoint(mlp, dataset, { name: 'run 3, epoch 1', solver: spec({ method: 'rk4' }) })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/: run 3, epoch 1 holds a 'mlp' model, which has no ODE block .*there is no solver to score it with$/),
      details: { field: 'solver' },
    });
    expect(tf.memory().numTensors).toBe(numTensors);
    // Without one it scores as before, and names no solver.
    const scored = await evaluateCheckpoint(mlp, dataset, { limit: 30 });
    expect(scored).not.toHaveProperty('solver');
    expect(scored.nfeForwardMean).toBe(0);
  });

  it('compares solvers by what decides a forward pass, the catalogue defaults filled in', () => {
    expect(sameForwardSolver(spec({ method: 'euler' }), spec({ method: 'euler', stepSize: 0.1 }))).toBe(true);
    expect(sameForwardSolver(spec({ method: 'dopri5' }), spec({ method: 'dopri5', rtol: 1e-3, atol: 1e-3, adjointRtol: 1e-6 }))).toBe(true);
    // A fixed step ignores tolerances and the step-size controller; an explicit method the implicit solve's settings.
    expect(sameForwardSolver(spec({ method: 'rk4', controller: 'PI' }), spec({ method: 'rk4', implicitTol: 1e-3 }))).toBe(true);
    expect(sameForwardSolver(spec({ method: 'euler' }), spec({ method: 'euler', stepSize: 0.05 }))).toBe(false);
    expect(sameForwardSolver(spec({ method: 'euler' }), spec({ method: 'midpoint' }))).toBe(false);
    expect(sameForwardSolver(spec({ method: 'dopri5' }), spec({ method: 'dopri5', maxSteps: 50 }))).toBe(false);
    expect(sameForwardSolver(spec({ method: 'implicit-euler' }), spec({ method: 'implicit-euler', implicitTol: 1e-4 }))).toBe(false);
  });
});
