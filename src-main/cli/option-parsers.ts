/**
 * Parsers for numeric command-line values; commander reports their errors as usage errors (exit code 2) naming
 * the flag. Strict: '2abc' or '1.9' is not an integer (parseInt would read 2 and 1), '' and 'abc' are not numbers.
 * Ranges beyond these are the run config schema's to check, which names the field.
 */
import { InvalidArgumentError } from 'commander';

export function num(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${v}'`);
  return n;
}

export function int(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
  return n;
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}
