// The Tangle chain behind one interface, so the operator does not depend on how the chain is
// reached (a second backend — Tangle's EVM contracts — can implement the same interface).
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import type { Logger } from 'pino';
import { followChainEvents } from './follow.js';
import { TxSender, accountFromUri, connectApi } from './tx.js';
import type { Included } from './tx.js';

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

export interface TangleClient {
  readonly address: string;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** JobCalled events of finalized blocks, from `fromBlock` (catching up) onwards. */
  subscribeJobCalls(handler: (call: JobCall) => void, opts?: { fromBlock?: number; onBlockScanned?: (n: number) => void }): Promise<() => void>;
  /** Submits `services.submitResult` and resolves once it is in a finalized block. */
  submitResult(serviceId: bigint, callId: bigint, result: unknown[]): Promise<Included>;
  /** Job calls of these services stored on-chain (`Services.JobCalls`) without a result yet:
   *  what a restart must finish even when the operator's own record of them is gone. The
   *  storage does not name the caller: `caller` is empty for these. */
  pendingJobCalls(serviceIds: bigint[]): Promise<JobCall[]>;
  /** Whether a result for the call is on-chain already. */
  hasResult(serviceId: bigint, callId: bigint): Promise<boolean>;
}

export class PolkadotTangleClient implements TangleClient {
  private api: ApiPromise | null = null;
  private sender: TxSender | null = null;

  constructor(
    private readonly opts: { rpcUrl: string; suri: string; log: Logger; /** Default finalized. */ follow?: 'finalized' | 'best' },
  ) {}

  get address(): string {
    if (!this.sender) throw new Error('not connected');
    return this.sender.pair.address;
  }

  private chain(): ApiPromise {
    if (!this.api) throw new Error('not connected');
    return this.api;
  }

  async connect(): Promise<void> {
    const api = await connectApi(this.opts.rpcUrl);
    this.api = api;
    this.sender = new TxSender(api, accountFromUri(api, this.opts.suri));
  }

  async disconnect(): Promise<void> {
    await this.api?.disconnect();
    this.api = null;
  }

  subscribeJobCalls(handler: (call: JobCall) => void, opts: { fromBlock?: number; onBlockScanned?: (n: number) => void } = {}): Promise<() => void> {
    return followChainEvents(
      this.chain(),
      { ...opts, head: this.opts.follow ?? 'finalized', onError: (err) => this.opts.log.warn({ err: err.message }, 'block scan failed; retrying with the next head') },
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

  async pendingJobCalls(serviceIds: bigint[]): Promise<JobCall[]> {
    const api = this.chain();
    const out: JobCall[] = [];
    for (const serviceId of serviceIds) {
      const entries = await api.query.services!.jobCalls!.entries(serviceId);
      for (const [key, value] of entries) {
        const callId = BigInt(key.args[1]!.toString());
        if (await this.hasResult(serviceId, callId)) continue;
        const call = (value as unknown as { unwrap(): { job: Codec; args: Iterable<Codec> } }).unwrap();
        out.push({ serviceId, callId, job: Number(call.job.toString()), caller: '', args: [...call.args], blockNumber: 0, blockHash: '' });
      }
    }
    return out.sort((a, b) => (a.serviceId === b.serviceId ? Number(a.callId - b.callId) : Number(a.serviceId - b.serviceId)));
  }

  async hasResult(serviceId: bigint, callId: bigint): Promise<boolean> {
    // Not `.isSome`: Tangle's metadata gives JobResults (and other Optional items) a fallback
    // that @polkadot/api decodes as Some(...) when nothing is stored. The size is 0 then.
    return (await this.chain().query.services!.jobResults!.size(serviceId, callId)).toNumber() > 0;
  }

  submitResult(serviceId: bigint, callId: bigint, result: unknown[]): Promise<Included> {
    return this.sender!.send(this.chain().tx.services!.submitResult!(serviceId, callId, result));
  }
}
