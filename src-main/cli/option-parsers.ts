/** Parsers for numeric command-line values; commander reports their errors as usage errors (exit code 2). */
import { InvalidArgumentError } from 'commander';

export const int = (v: string) => Number.parseInt(v, 10);

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}
