// The job contract's pure parts: the statement's canonical bytes, signing and verification,
// the result codec, and how results from several operators are counted. No chain, no Docker.
import { describe, expect, it } from 'vitest';
import { MalformedResult, STATEMENT_DOMAIN, decodeResult, encodeResult, encodeStatement, operatorSigningKey, outputHash, signStatement, stringField, verifyStatement } from '@faas/sdk/blueprint';
import type { FieldCodec } from '@faas/sdk/blueprint';
import { agreement, defaultQuorum } from '@faas/sdk';
import type { OperatorResult } from '@faas/sdk';

const statement = {
  genesisHash: `0x${'01'.repeat(32)}`,
  blueprintId: 2n,
  serviceId: 3n,
  callId: 258n,
  job: 0,
  argsHash: `0x${'aa'.repeat(32)}`,
  imageHash: `0x${'bb'.repeat(32)}`,
  exitCode: 7,
  outputHash: outputHash({ exitCode: 7, stdout: 'out', stderr: 'err' }),
};

/** A Field codec as @polkadot/api decodes one, for the result codec. */
function field(f: Record<string, unknown>): FieldCodec {
  const [type, v] = Object.entries(f)[0]!;
  const bytes = type === 'String' ? Buffer.from((v as string).slice(2), 'hex') : Buffer.from([Number(v)]);
  return { type, value: { toU8a: () => bytes, toString: () => String(v) }, toU8a: () => bytes };
}

describe('the signed statement', () => {
  it('is SCALE: domain tag, genesis, u64 blueprint/service/call (little-endian), u8 job, hashes, u8 exit code', () => {
    const bytes = Buffer.from(encodeStatement(statement));
    const domain = Buffer.from(STATEMENT_DOMAIN);
    expect(bytes[0]).toBe(domain.length << 2); // compact length
    expect(bytes.subarray(1, 1 + domain.length).toString()).toBe('tangle-faas/v1');
    let o = 1 + domain.length;
    expect(bytes.subarray(o, (o += 32)).toString('hex')).toBe('01'.repeat(32));
    expect(bytes.subarray(o, (o += 8)).toString('hex')).toBe('0200000000000000');
    expect(bytes.subarray(o, (o += 8)).toString('hex')).toBe('0300000000000000');
    expect(bytes.subarray(o, (o += 8)).toString('hex')).toBe('0201000000000000');
    expect(bytes[o++]).toBe(0);
    expect(bytes.subarray(o, (o += 32)).toString('hex')).toBe('aa'.repeat(32));
    expect(bytes.subarray(o, (o += 32)).toString('hex')).toBe('bb'.repeat(32));
    expect(bytes[o++]).toBe(7);
    expect(`0x${bytes.subarray(o, (o += 32)).toString('hex')}`).toBe(statement.outputHash);
    expect(o).toBe(bytes.length);
  });

  it('verifies with the signer’s registered key only, and only for the statement signed', async () => {
    const { pair, registeredKey } = await operatorSigningKey('//Bob');
    const { registeredKey: eve } = await operatorSigningKey('//Eve');
    const sig = signStatement(pair, statement);
    expect(sig).toMatch(/^0x[0-9a-f]{130}$/);
    expect(verifyStatement(statement, sig, registeredKey)).toBe(true);
    expect(verifyStatement(statement, sig, eve)).toBe(false);
    expect(verifyStatement({ ...statement, callId: 259n }, sig, registeredKey)).toBe(false);
    expect(verifyStatement(statement, '0x00', registeredKey)).toBe(false); // malformed: false, not a throw
    expect(verifyStatement(statement, sig, '0x1234')).toBe(false);
  });
});

describe('the result codec', () => {
  it('round-trips, cutting the on-chain copy of long output', () => {
    const stdout = 'é'.repeat(200); // 400 bytes: cut at a character boundary
    const fields = encodeResult({ exitCode: 0, stdout, stderr: '', outputHash: statement.outputHash, imageHash: statement.imageHash, signature: `0x${'cd'.repeat(65)}` }).map((f) => field(f as Record<string, unknown>));
    const r = decodeResult(fields);
    expect(r).toMatchObject({ exitCode: 0, stderr: '', complete: false, outputHash: statement.outputHash, imageHash: statement.imageHash });
    expect(Buffer.byteLength(r.stdout)).toBe(256);
    expect(stdout.startsWith(r.stdout)).toBe(true);
  });

  it('refuses anything but the blueprint’s layout', () => {
    const good = encodeResult({ exitCode: 0, stdout: 'x', stderr: '', outputHash: statement.outputHash, imageHash: statement.imageHash, signature: `0x${'cd'.repeat(65)}` }).map((f) => field(f as Record<string, unknown>));
    expect(() => decodeResult(good.slice(0, 6))).toThrow(MalformedResult);
    expect(() => decodeResult([field({ String: stringField('0').String }), ...good.slice(1)])).toThrow(/exitCode should be Uint8/);
    expect(() => decodeResult([...good.slice(0, 4), field(stringField('not a hash')), ...good.slice(5)])).toThrow(/outputHash/);
  });
});

describe('agreement between operators', () => {
  const r = (operator: string, out: string, more: Partial<OperatorResult> = {}): OperatorResult => ({
    operator, exitCode: 0, stdout: out, stderr: '', complete: true, outputHash: outputHash({ exitCode: 0, stdout: out, stderr: '' }), imageHash: statement.imageHash, signature: '0x', trusted: true, verified: true, ...more,
  });

  it('default quorum: 1 of 1, a majority otherwise', () => {
    expect([1, 2, 3, 4, 5].map(defaultQuorum)).toEqual([1, 2, 2, 3, 3]);
  });

  it('groups verified results by statement; the largest group agrees, the others dissent', () => {
    const a = agreement([r('A', '1'), r('B', '2'), r('C', '1'), r('X', '1', { trusted: false, verified: false }), r('D', '1', { verified: false })]);
    expect(a.agreed.map((x) => x.operator)).toEqual(['A', 'C']);
    expect(a.dissent.map((x) => x.operator)).toEqual(['B']);
    expect(a.rejected.map((x) => x.operator)).toEqual(['X', 'D']);
  });

  it('counts one result per operator (a second one from the same operator cannot add a vote)', () => {
    expect(agreement([r('A', '1'), r('A', '1'), r('B', '2')]).agreed.length).toBe(1);
  });

  it('a different image is a different statement', () => {
    const a = agreement([r('A', '1'), r('B', '1', { imageHash: `0x${'cc'.repeat(32)}` })]);
    expect(a.agreed.length).toBe(1);
    expect(a.dissent.length).toBe(1);
  });
});
