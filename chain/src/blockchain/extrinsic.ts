// Signed extrinsics: decoded with the runtime's types and verified as a node's transaction
// pool does — signature (over the signed-extension payload), nonce, era, spec/tx version.
import type { GenericExtrinsic } from '@polkadot/types';
import { hexToU8a } from '@polkadot/util';
import { blake2AsU8a, signatureVerify } from '@polkadot/util-crypto';
import type { Runtime } from '../runtime.js';
import type { Blockchain } from './index.js';
import type { HexString } from './storage-layer.js';

/** Why a transaction is refused, in Substrate's words (JSON-RPC error 1010 "Invalid Transaction"). */
export class InvalidTransaction extends Error {
  readonly code = 1010;
  constructor(
    readonly reason: string,
    /** A nonce ahead of the account's: valid once the gap is filled (the pool keeps it). */
    readonly future = false,
  ) {
    super(`Invalid Transaction: ${reason}`);
  }
}

export interface VerifiedExtrinsic {
  hex: HexString;
  hash: HexString;
  extrinsic: GenericExtrinsic;
  signer: string;
  nonce: number;
  section: string;
  method: string;
}

export function decodeExtrinsic(runtime: Runtime, hex: HexString): GenericExtrinsic {
  try {
    return runtime.registry.createType('Extrinsic', hexToU8a(hex)) as unknown as GenericExtrinsic;
  } catch (err) {
    throw new InvalidTransaction(`Could not decode the extrinsic: ${(err as Error).message}`);
  }
}

export function verifyExtrinsic(chain: Blockchain, hex: HexString, accountNonce: (who: string) => number): VerifiedExtrinsic {
  const { runtime } = chain;
  const ext = decodeExtrinsic(runtime, hex);
  if (!ext.isSigned) throw new InvalidTransaction('unsigned transactions are not accepted by this node');
  const signer = ext.signer.toString();
  const head = chain.head;
  let blockHash: HexString = chain.genesis.hash;
  if (ext.era.isMortalEra) {
    const birth = ext.era.asMortalEra.birth(head.number);
    const death = ext.era.asMortalEra.death(head.number);
    if (head.number >= death) throw new InvalidTransaction('Transaction has an ancient birth block');
    const born = chain.block(birth);
    if (!born) throw new InvalidTransaction('Transaction has an ancient birth block');
    blockHash = born.hash;
  }
  const sig = ext.inner.signature as unknown as { mode?: { toNumber(): number } };
  const payload = runtime.registry.createType('ExtrinsicPayload', {
    method: ext.method.toHex(),
    era: ext.era,
    nonce: ext.nonce,
    tip: ext.tip,
    mode: sig.mode?.toNumber() ?? 0,
    specVersion: runtime.version.specVersion,
    transactionVersion: runtime.version.transactionVersion,
    genesisHash: chain.genesis.hash,
    blockHash,
    metadataHash: null,
  }, { version: ext.version & 0x7f }); // the top bit only says 'signed'
  const signed = (payload as unknown as { toU8a(o: { method: boolean }): Uint8Array }).toU8a({ method: true });
  const message = signed.length > 256 ? blake2AsU8a(signed, 256) : signed;
  if (!signatureVerify(message, ext.signature.toU8a(), signer).isValid) {
    throw new InvalidTransaction('Transaction has a bad signature');
  }
  const nonce = ext.nonce.toNumber();
  const expected = accountNonce(signer);
  if (nonce < expected) throw new InvalidTransaction('Transaction is outdated');
  if (nonce > expected) throw new InvalidTransaction('Transaction will be valid in the future', true);
  const { section, method } = runtime.registry.findMetaCall(ext.callIndex);
  return { hex, hash: ext.hash.toHex() as HexString, extrinsic: ext, signer, nonce, section, method };
}
