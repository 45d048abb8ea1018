// Amounts as typed and shown by the operator CLI (pure: no chain needed).
import { describe, expect, it } from 'vitest';
import { chainUnit, formatAmount, parseAmount, readAmount, toRaw } from './units.js';

const tnt = { symbol: 'tTNT', decimals: 18 };

describe('parseAmount', () => {
  it('reads token amounts with the chain’s decimals', () => {
    expect(parseAmount('1.5', tnt)).toBe(1_500_000_000_000_000_000n);
    expect(parseAmount('1000', tnt)).toBe(10n ** 21n);
    expect(parseAmount('0.000000000000000001', tnt)).toBe(1n);
    expect(parseAmount('0', tnt)).toBe(0n);
    expect(parseAmount('2.50', { symbol: 'UNIT', decimals: 2 })).toBe(250n);
    expect(parseAmount('7', { symbol: 'X', decimals: 0 })).toBe(7n);
  });

  it('takes the token symbol after the amount, as the CLI prints it, in any case', () => {
    expect(parseAmount('1.5 tTNT', tnt)).toBe(1_500_000_000_000_000_000n);
    expect(parseAmount('1.5ttnt', tnt)).toBe(1_500_000_000_000_000_000n);
    expect(() => parseAmount('1.5 DOT', tnt)).toThrow(/got "1.5 DOT"/);
  });

  it('reads raw units with the raw suffix, beyond any float’s precision', () => {
    expect(parseAmount('1500000000000000000raw', tnt)).toBe(1_500_000_000_000_000_000n);
    expect(parseAmount('123456789012345678901234567890raw', tnt)).toBe(123456789012345678901234567890n);
    expect(parseAmount('1 RAW', tnt)).toBe(1n);
  });

  it('refuses what is not an amount, saying what it expected', () => {
    for (const bad of ['', 'lots', '-1', '1e18', '1.', '.5', '0x10', '1,5', '1.5.2']) {
      expect(() => parseAmount(bad, tnt), bad).toThrow(/expected a token amount such as 1.5, or raw units with the suffix "raw"/);
    }
    for (const bad of ['1.5raw', 'raw', '-3raw']) expect(() => parseAmount(bad, tnt), bad).toThrow(/raw units are a whole number/);
  });

  it('refuses more digits after the point than the token has decimals', () => {
    expect(() => parseAmount('0.0000000000000000001', tnt)).toThrow(/more than the 18 decimals a tTNT has/);
    expect(() => parseAmount('0.001', { symbol: 'UNIT', decimals: 2 })).toThrow(/2 decimals/);
  });

  it('splits into the form (before connecting) and the conversion (once the decimals are known)', () => {
    expect(readAmount('42raw')).toEqual({ raw: 42n });
    expect(readAmount('1.25')).toEqual({ whole: '1', fraction: '25' });
    expect(toRaw(readAmount('1.25'), { symbol: 'A', decimals: 3 })).toBe(1250n);
  });
});

describe('formatAmount', () => {
  it('shows the exact amount in tokens without trailing zeros', () => {
    expect(formatAmount(1_500_000_000_000_000_000n, tnt)).toBe('1.5 tTNT');
    expect(formatAmount(10n ** 24n, tnt)).toBe('1000000 tTNT');
    expect(formatAmount(1n, tnt)).toBe('0.000000000000000001 tTNT');
    expect(formatAmount(0n, tnt)).toBe('0 tTNT');
    expect(formatAmount(-25n, { symbol: 'U', decimals: 2 })).toBe('-0.25 U');
    expect(formatAmount(7n, { symbol: 'X', decimals: 0 })).toBe('7 X');
  });

  it('round-trips: what is shown parses back to the same raw units', () => {
    for (const raw of [0n, 1n, 10n ** 18n, 123456789012345678901234n, 999_999_999_999_999_999n]) {
      expect(parseAmount(formatAmount(raw, tnt), tnt)).toBe(raw);
    }
  });
});

describe('chainUnit', () => {
  it('takes the native token from the chain’s properties', () => {
    expect(chainUnit({ chainDecimals: [18], chainTokens: ['tTNT'] })).toEqual(tnt);
    expect(() => chainUnit({ chainDecimals: [], chainTokens: [] })).toThrow(/decimals/);
  });
});
