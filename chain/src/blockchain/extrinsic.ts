// Signed extrinsics: decoded with the runtime's types and verified as a node's transaction
// pool does — signature (over the signed-extension payload), nonce, era, spec/tx version.
import type { GenericExtrinsic } from '@polkadot/types';
import { hexToU8a } from '@polkadot/util';
import { blake2AsU8a, decodeAddress, signatureVerify } from '@polkadot/util-crypto';
// schnorrkel compiled to wasm: the sr25519 verifier @polkadot/util-crypto itself depends on and
// initialises in cryptoWaitReady (it is installed with it).
import { isReady as wasmReady, sr25519Verify as wasmSr25519Verify } from '@polkadot/wasm-crypto';
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

/**
 * Whether `signature` by `signer` over `message` is valid. util-crypto's signatureVerify tries
 * ed25519, then sr25519 in pure JavaScript (@scure/sr25519, about 4 ms a signature on a small
 * machine — the largest single cost of a transaction here). An sr25519 MultiSignature is first
 * checked with schnorrkel in wasm (about 0.4 ms); anything that does not pass there gets the
 * full generic check, so the set of accepted signatures is unchanged.
 */
function signatureValid(ext: GenericExtrinsic, message: Uint8Array, signer: string): boolean {
  const multi = (ext.inner.signature as unknown as { multiSignature?: { type?: string } }).multiSignature;
  if (multi?.type === 'Sr25519' && wasmReady() && wasmSr25519Verify(ext.signature.toU8a(), message, decodeAddress(signer))) return true;
  return signatureVerify(message, ext.signature.toU8a(), signer).isValid;
}

/**
 * The checks of a transaction that cannot change once it passes them: it decodes, is signed,
 * its birth block exists, and its signature is valid. The signed payload is fixed by the
 * extrinsic's bytes, the genesis hash and the birth block's hash, and this chain has no forks,
 * so a signature checked once (when the pool accepts it) need not be checked again when the
 * transaction is sealed; the nonce, era death and fee are checked again then (checkState).
 */
export function checkSignature(chain: Blockchain, hex: HexString): VerifiedExtrinsic {
  const { runtime } = chain;
  const ext = decodeExtrinsic(runtime, hex);
  if (!ext.isSigned) throw new InvalidTransaction('unsigned transactions are not accepted by this node');
  const signer = ext.signer.toString();
  const head = chain.head;
  let blockHash: HexString = chain.genesis.hash;
  if (ext.era.isMortalEra) {
    checkEraAlive(chain, ext);
    const birth = ext.era.asMortalEra.birth(head.number);
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
  if (!signatureValid(ext, message, signer)) {
    throw new InvalidTransaction('Transaction has a bad signature');
  }
  const { section, method } = runtime.registry.findMetaCall(ext.callIndex);
  return { hex, hash: ext.hash.toHex() as HexString, extrinsic: ext, signer, nonce: ext.nonce.toNumber(), section, method };
}

function checkEraAlive(chain: Blockchain, ext: GenericExtrinsic): void {
  if (ext.era.isMortalEra && chain.head.number >= ext.era.asMortalEra.death(chain.head.number)) {
    throw new InvalidTransaction('Transaction has an ancient birth block');
  }
}

/** The checks against the current head: the era has not ended, and the nonce is the account's next. */
export function checkState(chain: Blockchain, xt: VerifiedExtrinsic, accountNonce: (who: string) => number): VerifiedExtrinsic {
  checkEraAlive(chain, xt.extrinsic);
  const expected = accountNonce(xt.signer);
  if (xt.nonce < expected) throw new InvalidTransaction('Transaction is outdated');
  if (xt.nonce > expected) throw new InvalidTransaction('Transaction will be valid in the future', true);
  return xt;
}

/** Every check a node's pool makes of a transaction, against the current head. */
export function verifyExtrinsic(chain: Blockchain, hex: HexString, accountNonce: (who: string) => number): VerifiedExtrinsic {
  return checkState(chain, checkSignature(chain, hex), accountNonce);
}
