// Job 0 `execute`: its result between the operator's signed output and the chain's Fields.
// The output hash is blake2-256 of SCALE `(u8 exitCode, Vec<u8> stdout, Vec<u8> stderr)` of the
// *whole* output; the on-chain copy of stdout/stderr may be cut (the full output is served by
// the operator's API by that hash).
import { compactAddLength, u8aConcat } from '@polkadot/util';
import { blake2AsHex } from '@polkadot/util-crypto';
import { stringField, fieldText } from './args.js';
import type { FieldCodec } from './args.js';
import { EXECUTE_RESULT, ONCHAIN_OUTPUT_BYTES } from './jobs.js';

export interface OutputToSign {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A job result as its Fields carry it. */
export interface ExecuteResultFields {
  exitCode: number;
  /** On-chain copies: at most ONCHAIN_OUTPUT_BYTES each. */
  stdout: string;
  stderr: string;
  /** False when stdout or stderr was cut on-chain. */
  complete: boolean;
  outputHash: `0x${string}`;
  imageHash: `0x${string}`;
  signature: `0x${string}`;
}

/** Thrown when a result's Fields are not the `execute` job's result layout. */
export class MalformedResult extends Error {}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

export function outputHash(o: OutputToSign): `0x${string}` {
  return blake2AsHex(u8aConcat(new Uint8Array([o.exitCode & 0xff]), compactAddLength(utf8(o.stdout)), compactAddLength(utf8(o.stderr))), 256);
}

/** Cuts text to at most `max` UTF-8 bytes without splitting a character. */
export function capBytes(text: string, max = ONCHAIN_OUTPUT_BYTES): { text: string; cut: boolean } {
  const buf = Buffer.from(text);
  if (buf.length <= max) return { text, cut: false };
  let end = max;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return { text: buf.subarray(0, end).toString(), cut: true };
}

/** The `execute` job's result Fields, in blueprint order, for `services.submitResult`. */
export function encodeResult(o: OutputToSign & { outputHash: string; imageHash: string; signature: string }): unknown[] {
  const out = capBytes(o.stdout);
  const err = capBytes(o.stderr);
  return [{ Uint8: o.exitCode & 0xff }, stringField(out.text), stringField(err.text), { Bool: !out.cut && !err.cut }, stringField(o.outputHash), stringField(o.imageHash), stringField(o.signature)];
}

const HASH = /^0x[0-9a-f]{64}$/;
const SIGNATURE = /^0x[0-9a-f]{130}$/;

/** Reads a result's Fields back; throws MalformedResult for anything but the blueprint's layout. */
export function decodeResult(fields: ReadonlyArray<Pick<FieldCodec, 'type' | 'value'>>): ExecuteResultFields {
  if (fields.length !== EXECUTE_RESULT.length) throw new MalformedResult(`a result has ${EXECUTE_RESULT.length} fields, this one ${fields.length}`);
  fields.forEach((f, i) => {
    if (f.type !== EXECUTE_RESULT[i]!.type) throw new MalformedResult(`result field ${EXECUTE_RESULT[i]!.name} should be ${EXECUTE_RESULT[i]!.type}, is ${f.type}`);
  });
  const [exitCode, stdout, stderr, complete, hash, image, signature] = fields.map(fieldText) as [string, string, string, string, string, string, string];
  if (!HASH.test(hash)) throw new MalformedResult('result field outputHash is not a 0x-prefixed 32-byte hash');
  if (!HASH.test(image)) throw new MalformedResult('result field imageHash is not a 0x-prefixed 32-byte hash');
  if (!SIGNATURE.test(signature)) throw new MalformedResult('result field signature is not a 0x-prefixed 65-byte signature');
  return { exitCode: Number(exitCode), stdout, stderr, complete: complete === 'true', outputHash: hash as `0x${string}`, imageHash: image as `0x${string}`, signature: signature as `0x${string}` };
}
