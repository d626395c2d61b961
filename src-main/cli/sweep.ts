/**
 * `odelab train --sweep <flag>=<v1>,<v2>,…`: a grid over train's own value flags, as pure functions. Each value is
 * read by that flag's own commander parser (its number or integer parser, its choices), so a swept value means
 * exactly what the flag given plainly would; the combinations are the Cartesian product, the last axis fastest.
 */
import { InvalidArgumentError, type Option } from 'commander';
import { LabError } from '../../src-shared/errors';

/**
 * Flags that name no setting of the run to compare (where it goes, what it is called, how it is run): never swept.
 * Nor --lr-milestones, whose one value is itself comma-separated (a sweep's commas would split one list into runs).
 */
export const NOT_SWEPT: ReadonlySet<string> = new Set([
  'config', 'preset', 'resume', 'out', 'db', 'json', 'name', 'study', 'tag', 'notes', 'workers', 'backend', 'data-dir', 'sweep', 'checkpoint-every',
  'lr-milestones',
]);

/** One swept flag: its long name without dashes (`step-size`), the option, and its values as its parser reads them. */
export interface SweepAxis {
  flag: string;
  option: Option;
  values: unknown[];
}

/** One combination: a value for each axis, in the axes' order. */
export type Combination = { flag: string; option: Option; value: unknown }[];

/** The options a sweep may name: those taking one value, bar NOT_SWEPT. */
export function sweepableOptions(options: readonly Option[]): Map<string, Option> {
  return new Map(options.filter((o) => o.required && !o.variadic && !o.negate && !NOT_SWEPT.has(o.name())).map((o) => [o.name(), o]));
}

const refuse = (message: string, field = 'sweep') => new LabError('INVALID_ARGUMENT', message, { field });

/**
 * Reads each `--sweep` argument into an axis. Refused (INVALID_ARGUMENT): no `=`, a flag that cannot be swept or is
 * swept twice, an empty or repeated value, a value its flag's parser refuses (with commander's own message).
 */
export function parseSweeps(specs: readonly string[], options: readonly Option[]): SweepAxis[] {
  const sweepable = sweepableOptions(options);
  const axes: SweepAxis[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const flag = (eq < 0 ? spec : spec.slice(0, eq)).trim().replace(/^--/, '');
    if (eq < 0) throw refuse(`--sweep ${spec}: expected <flag>=<value>,<value>,… (e.g. step-size=0.1,0.05)`);
    const option = sweepable.get(flag);
    if (!option) {
      const why = NOT_SWEPT.has(flag) ? `--${flag} cannot be swept` : `train has no value flag --${flag}`;
      throw refuse(`--sweep ${spec}: ${why}; flags that can be: ${[...sweepable.keys()].join(', ')}`);
    }
    if (axes.some((a) => a.flag === flag)) throw refuse(`--sweep ${spec}: --${flag} is swept twice; give all its values in one --sweep`);
    const texts = spec.slice(eq + 1).split(',').map((v) => v.trim());
    if (texts.some((v) => v === '')) throw refuse(`--sweep ${spec}: expected comma-separated values, found an empty one`);
    const values = texts.map((text) => {
      try {
        return option.parseArg ? option.parseArg(text, undefined) : text;
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        // As commander words a refused value of the flag given plainly.
        throw refuse(`--sweep ${spec}: option '${option.flags}' argument '${text}' is invalid. ${e.message}`, flag);
      }
    });
    const repeated = values.find((v, i) => values.indexOf(v) !== i);
    if (repeated !== undefined) throw refuse(`--sweep ${spec}: ${String(repeated)} is given twice`);
    axes.push({ flag, option, values });
  }
  return axes;
}

/** Every combination, in the order given: the first axis slowest, the last fastest (as nested loops). */
export function expandGrid(axes: readonly SweepAxis[]): Combination[] {
  return axes.reduce<Combination[]>(
    (combos, { flag, option, values }) => combos.flatMap((combo) => values.map((value) => [...combo, { flag, option, value }])),
    [[]],
  );
}

/** `method=implicit-euler step-size=0.05`: how run names, headers and errors name a combination. */
export const combinationLabel = (combo: Combination): string => combo.map(({ flag, value }) => `${flag}=${String(value)}`).join(' ');

/** The flags as commander would have given them had each of the combination's flags been given plainly. */
export function flagsWith<F extends object>(flags: F, combo: Combination): F {
  return { ...flags, ...Object.fromEntries(combo.map(({ option, value }) => [option.attributeName(), value])) };
}

/** The grid a study records: `{ "method": ["euler", …], "step-size": [0.1, 0.05] }`. */
export const sweepGrid = (axes: readonly SweepAxis[]): Record<string, unknown[]> => Object.fromEntries(axes.map((a) => [a.flag, a.values]));

/** A flag both given plainly and swept is refused: which value would the runs have? */
export function checkNotGivenPlainly(axes: readonly SweepAxis[], flags: object): void {
  const given = axes.find((a) => (flags as Record<string, unknown>)[a.option.attributeName()] !== undefined);
  if (given) throw refuse(`--${given.flag} is given both plainly and in --sweep; give its values in --sweep only`, given.flag);
}

/** How many refused combinations a sweep's refusal names; the rest are counted. */
export const REFUSALS_NAMED = 10;

/**
 * One error for a sweep's refused combinations (each refusal's reason, by label), out of `total`: a single one as
 * `--sweep <label>: <reason>`; several counted and each named on its own line (the first REFUSALS_NAMED), so a
 * user fixes them all at once rather than one per attempt. The first refusal's code and details, and every label.
 */
export function sweepRefusal(refused: readonly { label: string; error: LabError }[], total: number): LabError {
  const [first] = refused;
  if (refused.length === 1) return new LabError(first.error.code, `--sweep ${first.label}: ${first.error.reason}`, first.error.details);
  // A reason of several lines (the schema's issues) indented under its combination.
  const named = refused.slice(0, REFUSALS_NAMED).map(({ label, error }) => `  ${label}: ${error.reason.replaceAll('\n', '\n    ')}`);
  const rest = refused.length - named.length;
  const more = rest > 0 ? [`  … and ${rest} more`] : [];
  const header = `--sweep: ${refused.length} of the sweep's ${total} combinations are refused; nothing was run:`;
  return new LabError(first.error.code, [header, ...named, ...more].join('\n'), { ...first.error.details, refused: refused.map((r) => r.label) });
}
