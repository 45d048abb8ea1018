// What the operator puts on-chain for an execution, and how anyone checks it: the result's
// canonical encoding is SCALE (u8 exit code, bytes stdout, bytes stderr) of the *whole*
// output; its blake2-256 is the output hash, signed with the operator's ECDSA key (the key
// registered on-chain in its preferences). The on-chain copy of the output may be cut.
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { TypeRegistry } from '@polkadot/types';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import { blake2AsHex, cryptoWaitReady, secp256k1Expand, signatureVerify } from '@polkadot/util-crypto';
import { ONCHAIN_OUTPUT_BYTES, stringField } from '../../blueprint/index.js';

const registry = new TypeRegistry();

export interface OutputToSign {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function outputHash(o: OutputToSign): `0x${string}` {
  // Bytes take hex as the raw content (a Uint8Array would be read as already length-prefixed).
  const raw = (s: string) => u8aToHex(Buffer.from(s, 'utf8'));
  const bytes = registry.createType('(u8, Bytes, Bytes)', [o.exitCode & 0xff, raw(o.stdout), raw(o.stderr)]).toU8a();
  return blake2AsHex(bytes, 256);
}

/** The operator's signing key, derived from its account secret (mnemonic or dev URI). */
export async function operatorSigningKey(suri: string): Promise<{ pair: KeyringPair; registeredKey: `0x${string}` }> {
  await cryptoWaitReady();
  const pair = new Keyring({ type: 'ecdsa' }).addFromUri(suri);
  // Tangle registers the uncompressed SEC1 public key: 0x04 ‖ x ‖ y (65 bytes).
  const registeredKey = u8aToHex(new Uint8Array([4, ...secp256k1Expand(pair.publicKey)]));
  return { pair, registeredKey };
}

export function signOutput(pair: KeyringPair, hash: `0x${string}`): `0x${string}` {
  return u8aToHex(pair.sign(hexToU8a(hash)));
}

/** True when `signature` over `hash` is by the holder of `registeredKey` (65-byte uncompressed). */
export function verifyOutput(hash: `0x${string}`, signature: `0x${string}`, registeredKey: `0x${string}`): boolean {
  try {
    const key = hexToU8a(registeredKey);
    const compressed = new Uint8Array(33);
    compressed[0] = (key[64]! & 1) === 0 ? 2 : 3;
    compressed.set(key.subarray(1, 33), 1);
    return signatureVerify(hexToU8a(hash), hexToU8a(signature), compressed).isValid;
  } catch {
    return false;
  }
}

/** Cuts text to at most `max` UTF-8 bytes without splitting a character. */
export function capBytes(text: string, max = ONCHAIN_OUTPUT_BYTES): { text: string; cut: boolean } {
  const buf = Buffer.from(text);
  if (buf.length <= max) return { text, cut: false };
  let end = max;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return { text: buf.subarray(0, end).toString(), cut: true };
}

/** The `execute` job's result fields, in blueprint order. */
export function resultFields(o: OutputToSign, hash: `0x${string}`, signature: `0x${string}`): unknown[] {
  const out = capBytes(o.stdout);
  const err = capBytes(o.stderr);
  return [{ Uint8: o.exitCode & 0xff }, stringField(out.text), stringField(err.text), { Bool: !out.cut && !err.cut }, stringField(hash), stringField(signature)];
}
