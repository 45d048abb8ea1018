// Token amounts as people type and read them. The chain counts in raw units (a TNT is
// 10^decimals of them, decimals from the chain's properties); people think in TNT.
//   - accepted: `1.5` or `1.5 tTNT` (TNT, at most `decimals` digits after the point) and
//     `1500000000000000000raw` (raw units, a whole number: the `raw` suffix says so);
//   - shown: the exact amount in TNT without trailing zeros, e.g. `1.5 tTNT` — nothing is
//     rounded, so what is shown can be typed back.

/** The chain's token: its symbol and how many decimals a whole token has. */
export interface TokenUnit {
  symbol: string;
  decimals: number;
}

/** An amount as typed, before the chain's decimals are known. */
export type TypedAmount = { raw: bigint } | { whole: string; fraction: string };

export const RAW_SUFFIX = 'raw';

/** What an amount may look like, for messages and help. */
export const AMOUNT_FORMS = `a token amount such as 1.5, or raw units with the suffix "${RAW_SUFFIX}" such as 1500000000000000000${RAW_SUFFIX}`;

/** Reads the form of an amount; throws an Error saying what was expected. A token amount may
 *  be followed by the symbol (`1.5 tTNT`, any case); without `symbol` (not known yet) any
 *  word is let through here, and `parseAmount` with the chain's unit checks it. */
export function readAmount(text: string, symbol?: string): TypedAmount {
  const t = text.trim();
  const raw = new RegExp(`^(\\d+)\\s*${RAW_SUFFIX}$`, 'i').exec(t);
  if (raw) return { raw: BigInt(raw[1]!) };
  if (new RegExp(`${RAW_SUFFIX}$`, 'i').test(t)) throw new Error(`raw units are a whole number of them, such as 1500${RAW_SUFFIX}; got ${JSON.stringify(text)}`);
  const tokens = /^(\d+)(?:\.(\d+))?(?:\s*([A-Za-z]+))?$/.exec(t);
  if (tokens && (tokens[3] === undefined || symbol === undefined || tokens[3].toLowerCase() === symbol.toLowerCase())) {
    return { whole: tokens[1]!, fraction: tokens[2] ?? '' };
  }
  throw new Error(`expected ${AMOUNT_FORMS}, got ${JSON.stringify(text)}`);
}

/** The amount in raw units; a token amount with more digits after the point than the token
 *  has decimals is refused (it cannot be represented). */
export function toRaw(amount: TypedAmount, unit: TokenUnit): bigint {
  if ('raw' in amount) return amount.raw;
  if (amount.fraction.length > unit.decimals) {
    throw new Error(`${amount.whole}.${amount.fraction} has more than the ${unit.decimals} decimals a ${unit.symbol} has (or give raw units: ${RAW_SUFFIX} suffix)`);
  }
  return BigInt(amount.whole) * 10n ** BigInt(unit.decimals) + BigInt(amount.fraction.padEnd(unit.decimals, '0') || '0');
}

/** `readAmount` then `toRaw`. */
export function parseAmount(text: string, unit: TokenUnit): bigint {
  return toRaw(readAmount(text, unit.symbol), unit);
}

/** The exact amount in tokens, trailing zeros dropped: `1.5 tTNT`, `0 tTNT`, `-0.25 tTNT`. */
export function formatAmount(raw: bigint, unit: TokenUnit): string {
  const negative = raw < 0n;
  const abs = negative ? -raw : raw;
  const base = 10n ** BigInt(unit.decimals);
  const whole = abs / base;
  const fraction = unit.decimals > 0 ? (abs % base).toString().padStart(unit.decimals, '0').replace(/0+$/, '') : '';
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''} ${unit.symbol}`;
}

/** The token of a chain from its properties (`api.registry.chainDecimals`/`chainTokens`):
 *  the first (native) one. */
export function chainUnit(registry: { chainDecimals: number[]; chainTokens: string[] }): TokenUnit {
  const decimals = registry.chainDecimals[0];
  const symbol = registry.chainTokens[0];
  if (decimals === undefined || !Number.isInteger(decimals) || decimals < 0) throw new Error('the chain does not say how many decimals its token has');
  return { decimals, symbol: symbol ?? 'UNIT' };
}
