// Sending transactions from one account: each takes the next local nonce at once (so many
// can be in flight without colliding — no random sleeps), and a refused nonce makes the
// next send re-read it from the chain. Plain Substrate plumbing: nothing here is specific
// to the services pallet, so it is proven against the real Tangle runtime under chopsticks.
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { ChainEvent } from './follow.js';
import { NonceManager } from './nonce.js';

export interface Included {
  blockHash: string;
  /** `section.method` of each event of the transaction. */
  events: string[];
  /** The same events with their data. */
  records: ChainEvent[];
  /** The fee paid (`transactionPayment.TransactionFeePaid.actualFee`), when the runtime reports it. */
  fee: bigint | null;
}

/** Thrown when the chain refuses or fails a transaction; `reason` is the chain's words. */
export class ChainTxError extends Error {
  constructor(
    readonly reason: string,
    /** The node refused it before it entered the pool (its nonce went unused). */
    readonly refused = false,
    readonly outdatedNonce = false,
  ) {
    super(reason);
  }
}

/** An API connection that reconnects every second after the node drops it. */
export async function connectApi(rpcUrl: string): Promise<ApiPromise> {
  await cryptoWaitReady();
  return ApiPromise.create({ provider: new WsProvider(rpcUrl, 1000), noInitWarn: true });
}

/** A keyring pair from a mnemonic or dev URI (`//Alice`), in the chain's address format. */
export function accountFromUri(api: ApiPromise, suri: string): KeyringPair {
  return new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri(suri);
}

const NONCE_REFUSED = /outdated|stale|future|1010.*nonce|Priority is too low/i;

export class TxSender {
  private readonly nonces: NonceManager;
  // Hand-overs to the node go one at a time, in nonce order (see `send`).
  private handOver: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: ApiPromise,
    readonly pair: KeyringPair,
  ) {
    this.nonces = new NonceManager(async () => (await api.rpc.system.accountNextIndex(pair.address)).toNumber());
    // After a gap in the connection our count may be stale.
    api.on('connected', () => this.nonces.reset());
  }

  /** Signs with the next nonce and resolves once included (`inBlock`) or finalized; retries once on a stale nonce. */
  async send(tx: SubmittableExtrinsic<'promise'>, until: 'inBlock' | 'finalized' = 'finalized', retried = false): Promise<Included> {
    // Each send hands its transaction to the node only after the one before was accepted
    // (its first status), so the node receives them in nonce order: a node may drop one that
    // arrives before its predecessor (chopsticks applies its pool in arrival order and drops
    // a "future" nonce). Only the hand-over waits; the waits for inclusion overlap.
    const previous = this.handOver;
    let handedOver!: () => void;
    this.handOver = new Promise<void>((res) => (handedOver = res));
    try {
      await previous;
      const nonce = await this.nonces.take();
      return await new Promise<Included>((resolve, reject) => {
        tx.signAndSend(this.pair, { nonce }, (r: ISubmittableResult) => {
          if (r.isError) {
            // Dropped or invalid after entering the pool: its nonce went unused, so later
            // ones would wait behind the gap. Re-read the count from the chain.
            this.nonces.reset();
            reject(new ChainTxError(`transaction ${r.status.type}`));
          }
          if (!(r.status.isFinalized || (until === 'inBlock' && r.status.isInBlock))) return;
          if (r.dispatchError) {
            const e = r.dispatchError;
            const reason = e.isModule ? (({ section, name }) => `${section}.${name}`)(this.api.registry.findMetaError(e.asModule)) : e.toString();
            reject(new ChainTxError(reason));
            return;
          }
          const records = r.events.map(({ event }) => ({ section: event.section, method: event.method, data: [...event.data] }));
          const paid = records.find((e) => e.section === 'transactionPayment' && e.method === 'TransactionFeePaid');
          resolve({
            blockHash: (r.status.isFinalized ? r.status.asFinalized : r.status.asInBlock).toHex(),
            events: records.map((e) => `${e.section}.${e.method}`),
            records,
            fee: paid ? BigInt(paid.data[1]!.toString()) : null,
          });
        }).then(handedOver, (err: Error) => reject(new ChainTxError(err.message, true, NONCE_REFUSED.test(err.message))));
      });
    } catch (err) {
      handedOver(); // before a retry queues behind us
      // Refused before entering the pool: the nonce we took is unused, so later ones would
      // wait forever behind the gap. Re-read the count from the chain (it counts the pool).
      if (err instanceof ChainTxError && err.refused) this.nonces.reset();
      if (err instanceof ChainTxError && err.outdatedNonce && !retried) return this.send(tx, until, true);
      throw err;
    } finally {
      handedOver();
    }
  }
}
