/** The CLI's numeric flag parsers read whole decimal numerals, nothing more (parseInt and Number read more). */
import { describe, expect, it } from 'vitest';
import { int, names, nonEmpty, num, positiveInt } from '../../src-main/cli/option-parsers';

describe('option parsers', () => {
  it('read decimal numerals whole', () => {
    expect(['7', '-3', '+4', '1e3', '0'].map(int)).toEqual([7, -3, 4, 1000, 0]);
    expect(['7', '1e3'].map(positiveInt)).toEqual([7, 1000]);
    expect(['1.9', '-0.25', '.5', '5.', '1e-3', '1.4e2'].map(num)).toEqual([1.9, -0.25, 0.5, 5, 0.001, 140]);
  });

  it('refuse fractions for integers, trailing text, other bases, padding and non-finite values, naming the value', () => {
    for (const v of ['1.9', '1.4e2', '2abc', '0x10', '0b11', ' 7 ', '', '1e400', 'NaN']) {
      expect(() => int(v), v).toThrow(`expected an integer, got '${v}'`);
    }
    for (const v of ['0', '-3']) expect(() => positiveInt(v), v).toThrow(`expected a positive integer, got '${v}'`);
    for (const v of ['2abc', '0x10', ' 7 ', '', 'Infinity', '1e400', 'NaN']) {
      expect(() => num(v), v).toThrow(`expected a number, got '${v}'`);
    }
  });

  it('take names trimmed and refuse empty ones (an unset shell variable)', () => {
    expect(nonEmpty('study-1')).toBe('study-1');
    expect(nonEmpty(' lr sweep ')).toBe('lr sweep'); // the name, not the spaces a shell left around it
    expect(names('b', names('a'))).toEqual(['a', 'b']);
    for (const v of ['', '  ']) expect(() => names(v, ['a'])).toThrow('expected a name, got an empty string');
  });
});
