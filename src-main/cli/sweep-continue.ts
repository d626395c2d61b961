/**
 * The same `train --sweep … --study <name>` run again continues the sweep. Each combination's run is looked for
 * among the study's runs by its stored config (a name can be edited; a config cannot), and the combination is
 * skipped (its run completed or diverged: a result), resumed in place (cancelled, interrupted, failed) or started.
 * Refused: a combination whose run another process trains, or whose run was made with other settings than this
 * command gives it (a study holds one sweep: runs of two base configs side by side would mislead its comparisons).
 */
import { LabError } from '../../src-shared/errors';
import { readStoredConfig, type RunConfig } from '../../src-shared/run-config';
import type { StoredRunStatus } from '../../src-shared/run-record';
import { configDiff } from '../store/config-diff';
import type { StudyRunConfig } from '../store';
import { sweepRefusal } from './sweep';

/** What a sweep does with one combination; `older`: the study's other runs of it, oldest first (the newest counts). */
export type SweepStep = { action: 'start' } | { action: 'skip' | 'resume'; runId: number; status: StoredRunStatus; older: number[] };

/** A combination as the sweep plans it. */
export interface PlannedCombination {
  label: string;
  config: RunConfig;
}

/** A config as compared: as the store reads it back (settings added since at their defaults), without its name. */
function comparable(config: unknown): Record<string, unknown> {
  const read = (readStoredConfig(JSON.parse(JSON.stringify(config))) ?? config) as Record<string, unknown>;
  const { name: _name, ...settings } = read;
  return settings;
}

/**
 * The settings the sweep's combinations differ in (`seed`, `model.solver.stepSize`): a study run's values there
 * say which combination it is. None for a grid of one combination, whose every run is that one.
 */
function sweptPaths(combos: readonly PlannedCombination[]): Set<string> {
  return new Set(configDiff(combos.map((c) => comparable(c.config))).map((d) => d.path));
}

const shown = (value: unknown) => (value === undefined ? 'unset' : typeof value === 'string' ? value : JSON.stringify(value));

/**
 * The step for the combination whose config is `config`. Its run is the newest study run with its values at
 * `swept`. Throws INVALID_ARGUMENT (the reason; the caller names the combination) when that run is running or
 * queued, or differs from `config` in any other setting (each named, the run's value and this command's).
 */
function stepFor(config: RunConfig, swept: ReadonlySet<string>, runs: readonly StudyRunConfig[], study: string): SweepStep {
  const wanted = comparable(config);
  const its = runs
    .map((run) => ({ run, differences: configDiff([comparable(run.config), wanted]) }))
    .filter(({ differences }) => differences.every((d) => !swept.has(d.path)))
    .sort((a, b) => b.run.id - a.run.id);
  if (its.length === 0) return { action: 'start' };
  const [{ run, differences }, ...older] = its;
  const details = { field: 'study', study, runId: run.id, status: run.status };
  if (run.status === 'running' || run.status === 'queued') {
    throw new LabError(
      'INVALID_ARGUMENT',
      `run ${run.id} in study '${study}' is ${run.status} in another process; wait for it to end, or stop it (odelab runs cancel ${run.id}), then run the sweep again`,
      details,
    );
  }
  if (differences.length > 0) {
    const what = differences.map(({ path, values: [was, now] }) => `${path} ${shown(was)} (this command: ${shown(now)})`).join(', ');
    throw new LabError(
      'INVALID_ARGUMENT',
      `run ${run.id} in study '${study}' was made with other settings: ${what}; to continue the sweep, give the flags it was started with; for a new sweep, another --study`,
      { ...details, differences },
    );
  }
  const done = run.status === 'completed' || run.status === 'diverged';
  return { action: done ? 'skip' : 'resume', runId: run.id, status: run.status, older: older.map((o) => o.run.id).reverse() };
}

/** Every combination's step, up front: refused ones refuse the sweep together (sweepRefusal), before any run. */
export function sweepSteps(combos: readonly PlannedCombination[], runs: readonly StudyRunConfig[], study: string): SweepStep[] {
  const swept = sweptPaths(combos);
  const refused: { label: string; error: LabError }[] = [];
  const steps = combos.map(({ label, config }): SweepStep => {
    try {
      return stepFor(config, swept, runs, study);
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      refused.push({ label, error: e });
      return { action: 'start' };
    }
  });
  if (refused.length > 0) throw sweepRefusal(refused, combos.length);
  return steps;
}

/** One combination's step at its turn (the study may have changed since the sweep began: `runs resume` elsewhere). */
export function combinationStep(combos: readonly PlannedCombination[], index: number, runs: readonly StudyRunConfig[], study: string): SweepStep {
  try {
    return stepFor(combos[index].config, sweptPaths(combos), runs, study);
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    throw sweepRefusal([{ label: combos[index].label, error: e }], combos.length);
  }
}

/** What a TTY header adds for a step: ` (done: run 19)`, ` (resuming run 19, cancelled)`; nothing for a start. */
export function stepNote(step: SweepStep): string {
  if (step.action === 'start') return '';
  const what = step.action === 'skip' ? `done: run ${step.runId}${step.status === 'completed' ? '' : `, ${step.status}`}` : `resuming run ${step.runId}, ${step.status}`;
  const newest = step.older.length > 0 ? `; the newest of the study's runs ${[...step.older, step.runId].join(', ')} for it` : '';
  return ` (${what}${newest})`;
}
