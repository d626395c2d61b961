/**
 * Parsers for numeric command-line values; commander reports their errors as usage errors (exit code 2) naming
 * the flag. Strict: '2abc' or '1.9' is not an integer (parseInt would read 2 and 1), '' and 'abc' are not numbers.
 * Ranges beyond these are the run config schema's to check, which names the field.
 */
import { InvalidArgumentError } from 'commander';
import { LabError } from '../../src-shared/errors';
import { firstNotIncreasing } from '../../src-shared/run-config';

/** Decimal numerals only (Number() would also read '0x10', '0b11' and ' 7 '). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER = /^[+-]?\d+(e\+?\d+)?$/i;

export function num(v: string): number {
  if (!DECIMAL.test(v) || !Number.isFinite(Number(v))) throw new InvalidArgumentError(`expected a number, got '${v}'`);
  return Number(v);
}

export function int(v: string): number {
  if (!INTEGER.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
  return Number(v);
}

/**
 * A name (a tag, a study), without the spaces around it (" a " would be a second, indistinguishable "a"); an empty
 * one is a mistake (an unset shell variable), not a name.
 */
export function nonEmpty(v: string): string {
  const name = v.trim();
  if (name === '') throw new InvalidArgumentError('expected a name, got an empty string');
  return name;
}

/** A repeatable (or variadic) name option: the names so far plus this one. */
export const names = (v: string, all: string[] = []): string[] => [...all, nonEmpty(v)];

/** A number ≥ 0 (a period in minutes, where 0 means never). */
export function nonNegativeNum(v: string): number {
  const x = num(v);
  if (x < 0) throw new InvalidArgumentError(`expected a number ≥ 0, got '${v}'`);
  return x;
}

export function positiveInt(v: string): number {
  if (!INTEGER.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  }
  return Number(v);
}

/** Epochs, comma-separated and increasing (`60,100,140`): a step schedule's milestones. */
export function epochList(v: string): number[] {
  const texts = v.split(',').map((t) => t.trim());
  if (texts.some((t) => !INTEGER.test(t) || !Number.isSafeInteger(Number(t)) || Number(t) < 1)) {
    throw new InvalidArgumentError(`expected comma-separated epochs, positive integers (e.g. 60,100,140), got '${v}'`);
  }
  const epochs = texts.map(Number);
  const i = firstNotIncreasing(epochs);
  if (i > 0) throw new InvalidArgumentError(`expected increasing epochs, got '${v}': ${epochs[i]} follows ${epochs[i - 1]}`);
  return epochs;
}

/** Run ids given as arguments: positive integers, the one that is not named (a usage error, exit code 2). */
export function runIds(values: string[]): number[] {
  return values.map((v) => {
    if (!INTEGER.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 1) {
      throw new LabError('INVALID_ARGUMENT', `run id: expected a positive integer, got '${v}'`, { field: 'id' });
    }
    return Number(v);
  });
}
