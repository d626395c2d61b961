import { describe, expect, it } from 'vitest';
import { compactNumber, float32Text } from '../../src-main/cli/number-text';

describe('float32Text', () => {
  it('prints a float32 metric with the fewest digits that read back as it', () => {
    expect(float32Text(Math.fround(0.3))).toBe('0.3'); // 0.30000001192092896 stored
    expect(float32Text(Math.fround(0.123456789))).toBe('0.12345679');
    expect(float32Text(Math.fround(2.5e-4))).toBe('2.5e-4');
    expect(float32Text(Math.fround(1e-7))).toBe('1e-7');
    expect(float32Text(Math.fround(1234.5678))).toBe('1234.5677');
    // A double (accuracy over 600 images) to float32's precision.
    expect(float32Text(589 / 600)).toBe('0.9816667');
    expect(float32Text(-Math.fround(0.7))).toBe('-0.7');
  });

  it('keeps integers whole (steps beyond 2^24 too) and what is not a float32 as it is', () => {
    expect(float32Text(16_777_217)).toBe('16777217');
    expect(float32Text(1000)).toBe('1000');
    expect(float32Text(0)).toBe('0');
    expect(float32Text(Number.NaN)).toBe('NaN');
    expect(float32Text(Infinity)).toBe('Infinity');
    expect(float32Text(1.5e300)).toBe('1.5e+300');
  });

  it('loses nothing of a float32: the text reads back as the same float32', () => {
    const values = new Float32Array(2000);
    for (let i = 0; i < values.length; i++) values[i] = (Math.sin(i * 12.9898) * 43758.5453 % 1) * 10 ** ((i % 13) - 6);
    for (const v of values) expect(Math.fround(Number(float32Text(v)))).toBe(v);
  });
});

describe('compactNumber', () => {
  it('writes the shorter of the decimal and exponent forms', () => {
    expect([1e-3, 0.05, 0.1, 2.5e-4, 1e-12, 1000].map(compactNumber)).toEqual(['1e-3', '0.05', '0.1', '2.5e-4', '1e-12', '1e3']);
  });
});
