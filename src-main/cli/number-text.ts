/** Numbers as the CLI's text output shows them to a reader (--json and CSV keep the values as stored). */

/** The shorter of 0.05 and 5e-2 (the decimal on a tie): 1e-3, 0.05, 0.1, 2.5e-4, 1e-12. */
export function compactNumber(x: number): string {
  const decimal = String(x);
  const exponent = x.toExponential().replace('e+', 'e');
  return exponent.length < decimal.length ? exponent : decimal;
}

/**
 * A metric as a researcher reads it: the fewest significant digits that read back as the same float32 (the engine
 * computes in float32, so a stored 0.30000001192092896 is 0.3, and no digit that float32 holds is dropped), in
 * compactNumber's form. Integers (steps, epochs, counts) are printed whole: float32 would round those above 2^24.
 */
export function float32Text(x: number): string {
  const single = Math.fround(x);
  // Beyond float32's range (no metric is) the double is all there is.
  if (!Number.isFinite(single) || Number.isInteger(x)) return String(x);
  // 9 significant digits always identify a float32.
  for (let digits = 1; digits < 9; digits++) {
    const shorter = Number(x.toPrecision(digits));
    if (Math.fround(shorter) === single) return compactNumber(shorter);
  }
  return compactNumber(Number(x.toPrecision(9)));
}
