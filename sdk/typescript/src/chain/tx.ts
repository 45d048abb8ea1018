// Sending transactions from one account: each takes the next local nonce at once (so many
// can be in flight without colliding — no random sleeps), and a refused nonce makes the
// next send re-read it from the chain. Signing happens here, with the signing data the API
// already holds (genesis, runtime version, a recent header for the era), and inclusion is
// read from the block's raw events (`blocks.ts`), so a send costs no per-block API rebuild.
// Plain Substrate plumbing: nothing here is specific to the services pallet, so it is proven
// against the real Tangle runtime under chopsticks.
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { Signer, SubmittableExtrinsic } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ExtrinsicStatus, Header } from '@polkadot/types/interfaces';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { blockBody, blockEvents } from './blocks.js';
import type { ChainEvent } from './blocks.js';
import { dispatchErrorReason } from './describe.js';
import type { DispatchErrorLike } from './describe.js';
import { NonceManager } from './nonce.js';
import { ChainTxError } from './tx-error.js';

export { ChainTxError } from './tx-error.js';

export interface Included {
  blockHash: string;
  /** The block's number. */
  blockNumber: number;
  /** `section.method` of each event of the transaction. */
  events: string[];
  /** The same events with their data. */
  records: ChainEvent[];
  /** The fee paid (`transactionPayment.TransactionFeePaid.actualFee`), when the runtime reports it. */
  fee: bigint | null;
  /** The transaction's hash (set by the EVM backend). */
  txHash?: string;
}

/** The call is completed and takes no more results (enough operators answered before this
 *  one): nothing is left to submit. */
export class CallClosedError extends ChainTxError {
  readonly code = 'CALL_CLOSED';
  constructor(
    readonly serviceId: bigint,
    readonly callId: bigint,
  ) {
    super(`submitResult: call ${callId} of service ${serviceId} is completed (JobAlreadyCompleted) and takes no more results`, true);
  }
}

/** An account that signs elsewhere: an address and a Signer (a browser wallet's injected one). */
export interface ExternalSigner {
  address: string;
  signer: Signer;
}

/** Who sends: a keyring pair (signs here) or an external signer. */
export type TxAccount = KeyringPair | ExternalSigner;

const isExternal = (a: TxAccount): a is ExternalSigner => 'signer' in a && typeof (a as Partial<KeyringPair>).sign !== 'function';

/**
 * An API connection that reconnects every second after the node drops it. With
 * `throwOnConnect`, a node that cannot be reached at first rejects at once (with the
 * provider's error) and nothing keeps retrying.
 */
export async function connectApi(rpcUrl: string, o: { throwOnConnect?: boolean } = {}): Promise<ApiPromise> {
  await cryptoWaitReady();
  if (!o.throwOnConnect) return ApiPromise.create({ provider: new WsProvider(rpcUrl, 1000), noInitWarn: true });
  const provider = new WsProvider(rpcUrl, 1000);
  try {
    return await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true });
  } catch (err) {
    await provider.disconnect().catch(() => undefined);
    throw err;
  }
}

/** A keyring pair from a mnemonic or dev URI (`//Alice`), in the chain's address format. */
export function accountFromUri(api: ApiPromise, suri: string): KeyringPair {
  return new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri(suri);
}

const NONCE_REFUSED = /outdated|stale|future|1010.*nonce|Priority is too low/i;
const ALREADY_IMPORTED = /already imported|1013/i;
/** Mortality of our transactions, in blocks: long, since a busy local node seals a block per transaction. */
const ERA_PERIOD = 4096;
/** A header older than this is read again before signing (it anchors the era). */
const HEADER_MAX_AGE_MS = 1000;

export interface SendOptions {
  /** Called with the signed transaction's bytes just before they go to the node: a journal
   *  keeps them, so after a crash the very same transaction (same nonce) can be sent again. */
  onSigned?: (signedHex: string) => void;
}

export class TxSender {
  private readonly nonces: NonceManager;
  // Hand-overs to the node go one at a time, in nonce order (see `send`).
  private handOver: Promise<void> = Promise.resolve();
  private header: { at: number; header: Promise<Header> } | null = null;

  readonly address: string;

  constructor(
    private readonly api: ApiPromise,
    private readonly account: TxAccount,
  ) {
    this.address = account.address;
    this.nonces = new NonceManager(async () => (await api.rpc.system.accountNextIndex(account.address)).toNumber());
    // After a gap in the connection our count may be stale.
    api.on('connected', () => {
      this.nonces.reset();
      this.header = null;
    });
  }

  /** The keyring pair it signs with (an external signer has none). */
  get pair(): KeyringPair {
    if (isExternal(this.account)) throw new Error(`${this.address} signs through an external signer: it has no keyring pair`);
    return this.account;
  }

  private recentHeader(): Promise<Header> {
    if (!this.header || Date.now() - this.header.at > HEADER_MAX_AGE_MS) {
      const header = this.api.rpc.chain.getHeader();
      this.header = { at: Date.now(), header };
      header.catch(() => (this.header = null));
    }
    return this.header.header;
  }

  /** Signs with the next nonce and resolves once included (`inBlock`) or finalized; retries once on a stale nonce. */
  async send(tx: SubmittableExtrinsic<'promise'>, until: 'inBlock' | 'finalized' = 'finalized', opts: SendOptions = {}, retried = false): Promise<Included> {
    // Each send hands its transaction to the node only after the one before was accepted
    // (its first status), so the node receives them in nonce order: a node may drop one that
    // arrives before its predecessor (chopsticks applies its pool in arrival order and drops
    // a "future" nonce). Only the hand-over waits; the waits for inclusion overlap.
    const previous = this.handOver;
    let handedOver!: () => void;
    this.handOver = new Promise<void>((res) => (handedOver = res));
    try {
      await previous;
      const header = await this.recentHeader();
      const nonce = await this.nonces.take();
      const api = this.api;
      const era = api.registry.createType('ExtrinsicEra', { current: header.number.toNumber(), period: ERA_PERIOD });
      if (isExternal(this.account)) {
        // The signer (a wallet) is handed the payload; it may ask its user, so this may take a while.
        await tx.signAsync(this.account.address, { signer: this.account.signer, nonce, blockHash: header.hash, era });
      } else {
        tx.sign(this.account, {
          nonce,
          blockHash: header.hash,
          era,
          genesisHash: api.genesisHash,
          runtimeVersion: api.runtimeVersion,
          signedExtensions: api.registry.signedExtensions,
          version: api.extrinsicVersion,
        } as never);
      }
      opts.onSigned?.(tx.toHex());
      return await this.watch(tx, until, handedOver);
    } catch (err) {
      handedOver(); // before a retry queues behind us
      // Refused before entering the pool: the nonce we took is unused, so later ones would
      // wait forever behind the gap. Re-read the count from the chain (it counts the pool).
      if (err instanceof ChainTxError && err.refused) this.nonces.reset();
      if (err instanceof ChainTxError && err.outdatedNonce && !retried) return this.send(tx, until, opts, true);
      throw err;
    } finally {
      handedOver();
    }
  }

  /** Sends already signed bytes again (a journal's copy after a crash); the nonce is theirs. */
  resend(signedHex: string, until: 'inBlock' | 'finalized' = 'finalized'): Promise<Included> {
    return this.watch(this.api.tx(signedHex), until, () => undefined);
  }

  /** Submits and follows the transaction's status until `until`; reads its events from the block. */
  private watch(tx: SubmittableExtrinsic<'promise'>, until: 'inBlock' | 'finalized', accepted: () => void): Promise<Included> {
    const txHash = tx.hash.toHex();
    return new Promise<Included>((resolve, reject) => {
      let unsub: (() => void) | null = null;
      let settled = false;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        unsub?.();
        f();
      };
      const onStatus = (status: ExtrinsicStatus) => {
        if (status.isDropped || status.isInvalid || status.isUsurped || status.isRetracted || status.isFinalityTimeout) {
          // Dropped or invalid after entering the pool: its nonce went unused, so later ones
          // would wait behind the gap. Re-read the count from the chain.
          this.nonces.reset();
          finish(() => reject(new ChainTxError(`transaction ${status.type}`)));
          return;
        }
        if (!(status.isFinalized || (until === 'inBlock' && status.isInBlock))) return;
        const blockHash = (status.isFinalized ? status.asFinalized : status.asInBlock).toHex();
        this.included(txHash, blockHash).then(
          (r) => finish(() => (r instanceof ChainTxError ? reject(r) : resolve(r))),
          (err: Error) => finish(() => reject(new ChainTxError(`could not read the events of block ${blockHash}: ${err.message}`))),
        );
      };
      this.api.rpc.author
        .submitAndWatchExtrinsic(tx, onStatus)
        .then((u) => {
          unsub = u;
          if (settled) u();
          accepted();
        })
        .catch((err: Error) => {
          accepted();
          finish(() => reject(new ChainTxError(err.message, true, NONCE_REFUSED.test(err.message), ALREADY_IMPORTED.test(err.message))));
        });
    });
  }

  /** The transaction's events in the block; a ChainTxError when it failed there. */
  private async included(txHash: string, blockHash: string): Promise<Included | ChainTxError> {
    const api = this.api;
    const [body, events] = await Promise.all([blockBody(api, blockHash), blockEvents(api, blockHash)]);
    const index = body.extrinsics.indexOf(txHash);
    const records = events.filter((e) => e.extrinsic === index && index >= 0).map((e) => e.event);
    const failed = records.find((e) => e.section === 'system' && e.method === 'ExtrinsicFailed');
    if (failed) {
      return new ChainTxError(dispatchErrorReason(api.registry, failed.data[0] as unknown as DispatchErrorLike));
    }
    const paid = records.find((e) => e.section === 'transactionPayment' && e.method === 'TransactionFeePaid');
    return {
      blockHash,
      blockNumber: body.number,
      events: records.map((e) => `${e.section}.${e.method}`),
      records,
      fee: paid ? BigInt(paid.data[1]!.toString()) : null,
    };
  }
}
