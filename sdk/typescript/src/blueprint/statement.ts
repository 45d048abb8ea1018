// The statement an operator signs for each result: what was run (chain, blueprint, service,
// call, job, arguments), where (the runtime image's content hash) and what came out (exit
// code, output hash). Binding the job into the signature means a genuine signature from one
// call cannot be replayed onto another; binding the image makes disagreeing environments
// visible. Its canonical form is SCALE, in the order of `Statement`'s fields, prefixed with the
// domain tag; the signature is ECDSA (secp256k1, recoverable, 65 bytes) over its blake2-256 —
// what a Substrate ECDSA key pair's `sign` does — checked against the 65-byte key the operator
// registered on-chain.
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { bnToU8a, compactAddLength, hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, secp256k1Expand, secp256k1Verify } from '@polkadot/util-crypto';

export const STATEMENT_DOMAIN = 'tangle-faas/v1';

export interface Statement {
  /** The chain's genesis hash (which chain the job was called on). */
  genesisHash: string;
  blueprintId: bigint | number;
  serviceId: bigint | number;
  callId: bigint | number;
  job: number;
  /** blake2-256 of the call's arguments as on-chain (`argsHash`). */
  argsHash: string;
  /** The runtime image's content hash (its Docker image id). */
  imageHash: string;
  exitCode: number;
  /** blake2-256 of the whole output (`outputHash`). */
  outputHash: string;
}

const u64 = (n: bigint | number) => bnToU8a(BigInt(n), { bitLength: 64, isLe: true });

function h256(name: string, hex: string): Uint8Array {
  const bytes = hexToU8a(hex);
  if (bytes.length !== 32) throw new Error(`statement field ${name} must be 32 bytes, got ${bytes.length}`);
  return bytes;
}

/** The statement's canonical bytes (SCALE). */
export function encodeStatement(s: Statement): Uint8Array {
  return u8aConcat(
    compactAddLength(new Uint8Array(Buffer.from(STATEMENT_DOMAIN, 'utf8'))),
    h256('genesisHash', s.genesisHash),
    u64(s.blueprintId),
    u64(s.serviceId),
    u64(s.callId),
    new Uint8Array([s.job & 0xff]),
    h256('argsHash', s.argsHash),
    h256('imageHash', s.imageHash),
    new Uint8Array([s.exitCode & 0xff]),
    h256('outputHash', s.outputHash),
  );
}

/** The operator's signing key, derived from its account secret (mnemonic or dev URI). */
export async function operatorSigningKey(suri: string): Promise<{ pair: KeyringPair; registeredKey: `0x${string}` }> {
  await cryptoWaitReady();
  const pair = new Keyring({ type: 'ecdsa' }).addFromUri(suri);
  // Tangle registers the uncompressed SEC1 public key: 0x04 ‖ x ‖ y (65 bytes).
  const registeredKey = u8aToHex(new Uint8Array([4, ...secp256k1Expand(pair.publicKey)]));
  return { pair, registeredKey };
}

export function signStatement(pair: KeyringPair, s: Statement): `0x${string}` {
  return u8aToHex(pair.sign(encodeStatement(s)));
}

/** True when `signature` over the statement is by the holder of `registeredKey` (65-byte uncompressed SEC1). */
export function verifyStatement(s: Statement, signature: string, registeredKey: string): boolean {
  try {
    const key = hexToU8a(registeredKey);
    if (key.length !== 65 || key[0] !== 4) return false;
    const compressed = new Uint8Array(33);
    compressed[0] = (key[64]! & 1) === 0 ? 2 : 3;
    compressed.set(key.subarray(1, 33), 1);
    return secp256k1Verify(encodeStatement(s), hexToU8a(signature), compressed, 'blake2');
  } catch {
    return false;
  }
}
