// The Tangle chain behind one interface, so the operator does not depend on how the chain is
// reached (a second backend — Tangle's EVM contracts — can implement the same interface).
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec, ISubmittableResult } from '@polkadot/types/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { Logger } from 'pino';
import { followFinalizedEvents } from './follow.js';
import { NonceManager } from './nonce.js';

/** A `services.JobCalled` event, decoded. Args are the raw Field codecs, in order. */
export interface JobCall {
  serviceId: bigint;
  callId: bigint;
  job: number;
  caller: string;
  args: Codec[];
  blockNumber: number;
  blockHash: string;
}

export interface Included {
  blockHash: string;
  blockNumber: number;
  events: string[];
}

/** Thrown when the chain refuses or fails a transaction; `reason` is the chain's words. */
export class ChainTxError extends Error {
  constructor(
    readonly reason: string,
    readonly outdatedNonce = false,
  ) {
    super(reason);
  }
}

export interface TangleClient {
  readonly address: string;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** JobCalled events of finalized blocks, from `fromBlock` (catching up) onwards. */
  subscribeJobCalls(handler: (call: JobCall) => void, opts?: { fromBlock?: number; onBlockScanned?: (n: number) => void }): Promise<() => void>;
  /** Submits `services.submitResult` and resolves once it is in a finalized block. */
  submitResult(serviceId: bigint, callId: bigint, result: unknown[]): Promise<Included>;
  /** Whether a result for the call is on-chain already. */
  hasResult(serviceId: bigint, callId: bigint): Promise<boolean>;
}

export class PolkadotTangleClient implements TangleClient {
  private api: ApiPromise | null = null;
  private pair: KeyringPair | null = null;
  private readonly nonces = new NonceManager(async () => (await this.chain().rpc.system.accountNextIndex(this.address)).toNumber());

  constructor(
    private readonly opts: { rpcUrl: string; suri: string; log: Logger },
  ) {}

  get address(): string {
    if (!this.pair) throw new Error('not connected');
    return this.pair.address;
  }

  private chain(): ApiPromise {
    if (!this.api) throw new Error('not connected');
    return this.api;
  }

  async connect(): Promise<void> {
    await cryptoWaitReady();
    const provider = new WsProvider(this.opts.rpcUrl, 1000); // reconnects every second when dropped
    const api = await ApiPromise.create({ provider, noInitWarn: true });
    provider.on('connected', () => this.nonces.reset()); // our count may be stale after a gap
    this.api = api;
    this.pair = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri(this.opts.suri);
  }

  async disconnect(): Promise<void> {
    await this.api?.disconnect();
    this.api = null;
  }

  subscribeJobCalls(handler: (call: JobCall) => void, opts: { fromBlock?: number; onBlockScanned?: (n: number) => void } = {}): Promise<() => void> {
    return followFinalizedEvents(
      this.chain(),
      { ...opts, onError: (err) => this.opts.log.warn({ err: err.message }, 'block scan failed; retrying with the next head') },
      (event, block) => {
        if (event.section !== 'services' || event.method !== 'JobCalled') return;
        const [caller, serviceId, callId, job, args] = event.data;
        handler({
          caller: caller!.toString(),
          serviceId: BigInt(serviceId!.toString()),
          callId: BigInt(callId!.toString()),
          job: Number(job!.toString()),
          args: [...(args as unknown as Iterable<Codec>)],
          blockNumber: block.number,
          blockHash: block.hash,
        });
      },
    );
  }

  async hasResult(serviceId: bigint, callId: bigint): Promise<boolean> {
    // Not `.isSome`: Tangle's metadata gives JobResults (and other Optional items) a fallback
    // that @polkadot/api decodes as Some(...) when nothing is stored. The size is 0 then.
    return (await this.chain().query.services!.jobResults!.size(serviceId, callId)).toNumber() > 0;
  }

  submitResult(serviceId: bigint, callId: bigint, result: unknown[]): Promise<Included> {
    return this.submit(this.chain().tx.services!.submitResult!(serviceId, callId, result));
  }

  /** Signs with the next local nonce and waits for finality; retries once on a stale nonce. */
  private async submit(tx: SubmittableExtrinsic<'promise'>, retried = false): Promise<Included> {
    const nonce = await this.nonces.take();
    try {
      return await new Promise<Included>((resolve, reject) => {
        tx.signAndSend(this.pair!, { nonce }, (r: ISubmittableResult) => {
          if (r.isError) reject(new ChainTxError(`transaction ${r.status.type}`));
          if (!r.status.isFinalized) return;
          if (r.dispatchError) {
            const e = r.dispatchError;
            const reason = e.isModule ? (({ section, name }) => `${section}.${name}`)(this.chain().registry.findMetaError(e.asModule)) : e.toString();
            reject(new ChainTxError(reason));
            return;
          }
          resolve({
            blockHash: r.status.asFinalized.toHex(),
            blockNumber: -1,
            events: r.events.map(({ event }) => `${event.section}.${event.method}`),
          });
        }).catch((err: Error) => reject(new ChainTxError(err.message, /outdated|future|1010.*nonce|Priority is too low/i.test(err.message))));
      });
    } catch (err) {
      if (err instanceof ChainTxError && err.outdatedNonce && !retried) {
        this.nonces.reset();
        return this.submit(tx, true);
      }
      throw err;
    }
  }
}
