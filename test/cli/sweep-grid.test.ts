/** `train --sweep`'s grid: reading each --sweep as its flag reads values, and the combinations in order. */
import { describe, expect, it } from 'vitest';
import { trainCommand } from '../../src-main/cli/train-command';
import {
  checkNotGivenPlainly,
  combinationLabel,
  expandGrid,
  flagsWith,
  NOT_SWEPT,
  parseSweeps,
  sweepableOptions,
  REFUSALS_NAMED,
  sweepGrid,
  sweepRefusal,
} from '../../src-main/cli/sweep';
import { LabError } from '../../src-shared/errors';

const { options } = trainCommand();
const parse = (...specs: string[]) => parseSweeps(specs, options);
const refusal = (specs: string[]) => {
  try {
    parseSweeps(specs, options);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${specs.join(' ')} was not refused`);
};

describe('train --sweep grid', () => {
  it('offers train’s own value flags, not where a run goes or what it is called', () => {
    const sweepable = [...sweepableOptions(options).keys()];
    expect(sweepable).toEqual(expect.arrayContaining(['method', 'step-size', 'train-size', 'seed', 'lr', 'test-size', 'batch-size', 'gradient', 'rtol', 'atol', 'epochs', 'blocks']));
    for (const flag of NOT_SWEPT) expect(sweepable).not.toContain(flag);
    expect(sweepable).not.toContain('json'); // a switch, no value
  });

  it('reads values with the flag’s own parser and choices', () => {
    const [h, method, seed] = parse('step-size=0.5, 1e-1', 'method=euler,implicit-euler', '--seed=1,2');
    expect(h).toMatchObject({ flag: 'step-size', values: [0.5, 0.1] });
    expect(method).toMatchObject({ flag: 'method', values: ['euler', 'implicit-euler'] });
    expect(seed).toMatchObject({ flag: 'seed', values: [1, 2] });
    expect(sweepGrid([h, method, seed])).toEqual({ 'step-size': [0.5, 0.1], method: ['euler', 'implicit-euler'], seed: [1, 2] });
    expect(refusal(['method=euler,rk45'])).toMatch(/^INVALID_ARGUMENT: --sweep method=euler,rk45: option '--method <name>' argument 'rk45' is invalid\. Allowed choices are euler, /);
    expect(refusal(['seed=1.5'])).toMatch(/option '--seed <n>' argument '1\.5' is invalid\. expected an integer, got '1\.5'/);
    expect(refusal(['lr=abc'])).toMatch(/option '--lr <x>' argument 'abc' is invalid/);
  });

  it('refuses what is not a sweep: no values, empty or repeated ones, a flag swept twice, one that cannot be swept', () => {
    expect(refusal(['seed'])).toMatch(/--sweep seed: expected <flag>=<value>,<value>/);
    expect(refusal(['seed=1,,2'])).toMatch(/found an empty one/);
    expect(refusal(['seed='])).toMatch(/found an empty one/);
    expect(refusal(['step-size=0.5,0.50'])).toMatch(/0\.5 is given twice/);
    expect(refusal(['seed=1', 'seed=2'])).toMatch(/--seed is swept twice/);
    expect(refusal(['out=a,b'])).toMatch(/--out cannot be swept; flags that can be: .*method/);
    expect(refusal(['colour=red'])).toMatch(/train has no value flag --colour/);
  });

  it('expands the product in the order given, the last axis fastest, and gives each as its flags', () => {
    const axes = parse('method=euler,implicit-euler,crank-nicolson', 'step-size=0.1,0.05');
    const combos = expandGrid(axes);
    expect(combos.map(combinationLabel)).toEqual([
      'method=euler step-size=0.1',
      'method=euler step-size=0.05',
      'method=implicit-euler step-size=0.1',
      'method=implicit-euler step-size=0.05',
      'method=crank-nicolson step-size=0.1',
      'method=crank-nicolson step-size=0.05',
    ]);
    expect(flagsWith({ epochs: 2, stepSize: undefined }, combos[3])).toEqual({ epochs: 2, method: 'implicit-euler', stepSize: 0.05 });
    expect(expandGrid([])).toEqual([[]]);
  });

  it('refuses a flag given both plainly and swept', () => {
    const axes = parse('step-size=0.1,0.05');
    expect(() => checkNotGivenPlainly(axes, { stepSize: 0.2 })).toThrow(/--step-size is given both plainly and in --sweep/);
    expect(() => checkNotGivenPlainly(axes, { seed: 1 })).not.toThrow();
  });

  it('names each refused combination, counted, up to REFUSALS_NAMED; one alone as before', () => {
    const refused = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ label: `seed=${i}`, error: new LabError('INVALID_ARGUMENT', `reason ${i}`, { field: 'seed' }) }));
    const one = sweepRefusal(refused(1), 4);
    expect([one.code, one.reason, one.details]).toEqual(['INVALID_ARGUMENT', '--sweep seed=0: reason 0', { field: 'seed' }]);
    // Several: each on its line, a reason of several lines indented under its combination.
    const schema = { label: 'method=dopri5', error: new LabError('INVALID_ARGUMENT', 'invalid run configuration:\nmodel.solver.stepSize: no', { field: 'x' }) };
    const three = sweepRefusal([...refused(2), schema], 6);
    expect(three.reason).toBe(
      "--sweep: 3 of the sweep's 6 combinations are refused; nothing was run:\n" +
        '  seed=0: reason 0\n  seed=1: reason 1\n  method=dopri5: invalid run configuration:\n    model.solver.stepSize: no',
    );
    expect(three.details).toEqual({ field: 'seed', refused: ['seed=0', 'seed=1', 'method=dopri5'] });
    // Many: the first named, the rest counted.
    const many = sweepRefusal(refused(REFUSALS_NAMED + 3), 20);
    const lines = many.reason.split('\n');
    expect(lines[0]).toBe(`--sweep: ${REFUSALS_NAMED + 3} of the sweep's 20 combinations are refused; nothing was run:`);
    expect(lines.slice(1, -1)).toEqual(refused(REFUSALS_NAMED).map((r) => `  ${r.label}: ${r.error.reason}`));
    expect(lines.at(-1)).toBe('  … and 3 more');
    expect((many.details.refused as string[]).length).toBe(REFUSALS_NAMED + 3);
  });
});
