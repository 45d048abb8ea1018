// The Tangle chain behind one interface, so the operator does not depend on how the chain is
// reached (a second backend — Tangle's EVM contracts — can implement the same interface).
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import type { Logger } from 'pino';
import { argsHash } from '@faas/sdk/blueprint';
import type { EvmChainIdentity } from '@faas/sdk/blueprint';
import { TxSender, accountFromUri, callKey, connectApi, followChainEvents, readService, scanBlocks } from '@faas/sdk/chain';
import type { Included, SendOptions, ServiceRecord } from '@faas/sdk/chain';

/** A `services.JobCalled` event, decoded. Args are the raw Field codecs, in order. */
export interface JobCall {
  serviceId: bigint;
  callId: bigint;
  job: number;
  caller: string;
  args: Codec[];
  /** The arguments already read as texts (the EVM backend decodes its ABI inputs); when set,
   *  `args` is not used. */
  texts?: string[];
  /** Why the arguments could not be read (they become an error result). */
  argsError?: string;
  /** Hash of the args as on-chain: blake2-256 of the Fields (`argsHash`), or on EVM keccak256 of the input bytes. */
  argsHash: string;
  blockNumber: number;
  blockHash: string;
}


export interface TangleClient {
  readonly address: string;
  /** The chain's identity, bound into every signed statement. */
  readonly genesisHash: string;
  /** On an EVM chain: chain id and Tangle contract, which its statements bind instead. */
  readonly evm?: EvmChainIdentity;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** The number of the head this client follows (finalized, or best by choice). */
  head(): Promise<number>;
  /** JobCalled events of finalized blocks, from `fromBlock` (catching up) onwards. */
  subscribeJobCalls(handler: (call: JobCall) => void, opts?: { fromBlock?: number; onBlockScanned?: (n: number) => void }): Promise<() => void>;
  /** A service's on-chain record (blueprint, operators, owner, permitted callers), or null. */
  service(serviceId: bigint): Promise<ServiceRecord | null>;
  /** Job calls of these services stored on-chain (`Services.JobCalls`), answered or not. The
   *  storage does not name the caller: `caller` is empty for these. */
  storedJobCalls(serviceIds: bigint[]): Promise<JobCall[]>;
  /** The calls this account submitted a result for in blocks `fromBlock`..head (its own
   *  `JobResultSubmitted` events), as `callKey`s. */
  ownResults(fromBlock: number): Promise<Set<string>>;
  /** One pass over blocks `fromBlock`..head: this account's own results (as `ownResults`) and
   *  who made each call (`JobCalled`), by `callKey` — what a restart with an empty database
   *  needs to answer stored calls as their callers. */
  history(fromBlock: number): Promise<{ answered: Set<string>; callers: Map<string, string> }>;
  /** Whether the call needs no (more) result from this operator, for calls older than what
   *  `history` read back. Substrate: any result is on-chain (storage keeps only the last, not
   *  whose). EVM: this operator's own result is logged, or the call is completed. */
  hasResult(serviceId: bigint, callId: bigint): Promise<boolean>;
  /** Submits `services.submitResult` and resolves once it is in a finalized block. */
  submitResult(serviceId: bigint, callId: bigint, result: unknown[], opts?: SendOptions): Promise<Included>;
  /** Sends a journaled, already signed result transaction again (same nonce). */
  resendResult(signedHex: string): Promise<Included>;
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

  get genesisHash(): string {
    return this.chain().genesisHash.toHex();
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

  async head(): Promise<number> {
    const api = this.chain();
    const hash = this.opts.follow === 'best' ? undefined : await api.rpc.chain.getFinalizedHead();
    return (await api.rpc.chain.getHeader(hash)).number.toNumber();
  }

  subscribeJobCalls(handler: (call: JobCall) => void, opts: { fromBlock?: number; onBlockScanned?: (n: number) => void } = {}): Promise<() => void> {
    return followChainEvents(
      this.chain(),
      { ...opts, head: this.opts.follow ?? 'finalized', onError: (err) => this.opts.log.warn({ err: err.message }, 'block scan failed; retrying with the next head') },
      (event, block) => {
        if (event.section !== 'services' || event.method !== 'JobCalled') return;
        const [caller, serviceId, callId, job, args] = event.data;
        const fields = [...(args as unknown as Iterable<Codec>)];
        handler({
          caller: caller!.toString(),
          serviceId: BigInt(serviceId!.toString()),
          callId: BigInt(callId!.toString()),
          job: Number(job!.toString()),
          args: fields,
          argsHash: argsHash(fields),
          blockNumber: block.number,
          blockHash: block.hash,
        });
      },
    );
  }

  service(serviceId: bigint): Promise<ServiceRecord | null> {
    return readService(this.chain(), serviceId);
  }

  async storedJobCalls(serviceIds: bigint[]): Promise<JobCall[]> {
    const api = this.chain();
    const out: JobCall[] = [];
    for (const serviceId of serviceIds) {
      const entries = await api.query.services!.jobCalls!.entries(serviceId);
      for (const [key, value] of entries) {
        const callId = BigInt(key.args[1]!.toString());
        const call = (value as unknown as { unwrap(): { job: Codec; args: Iterable<Codec> } }).unwrap();
        const fields = [...call.args];
        out.push({ serviceId, callId, job: Number(call.job.toString()), caller: '', args: fields, argsHash: argsHash(fields), blockNumber: 0, blockHash: '' });
      }
    }
    return out.sort((a, b) => (a.serviceId === b.serviceId ? Number(a.callId - b.callId) : Number(a.serviceId - b.serviceId)));
  }

  async ownResults(fromBlock: number): Promise<Set<string>> {
    return (await this.history(fromBlock)).answered;
  }

  async history(fromBlock: number): Promise<{ answered: Set<string>; callers: Map<string, string> }> {
    const answered = new Set<string>();
    const callers = new Map<string, string>();
    const me = this.address;
    await scanBlocks(this.chain(), { from: fromBlock, to: await this.head(), head: this.opts.follow ?? 'finalized' }, (event) => {
      if (event.section !== 'services') return;
      if (event.method === 'JobResultSubmitted') {
        const [operator, sid, cid] = event.data;
        if (operator!.toString() === me) answered.add(callKey(BigInt(sid!.toString()), BigInt(cid!.toString())));
      } else if (event.method === 'JobCalled') {
        const [caller, sid, cid] = event.data;
        callers.set(callKey(BigInt(sid!.toString()), BigInt(cid!.toString())), caller!.toString());
      }
    });
    return { answered, callers };
  }

  async hasResult(serviceId: bigint, callId: bigint): Promise<boolean> {
    // Not `.isSome`: Tangle's metadata gives JobResults (and other Optional items) a fallback
    // that @polkadot/api decodes as Some(...) when nothing is stored. The size is 0 then.
    return (await this.chain().query.services!.jobResults!.size(serviceId, callId)).toNumber() > 0;
  }

  submitResult(serviceId: bigint, callId: bigint, result: unknown[], opts: SendOptions = {}): Promise<Included> {
    return this.sender!.send(this.chain().tx.services!.submitResult!(serviceId, callId, result), 'finalized', opts);
  }

  resendResult(signedHex: string): Promise<Included> {
    return this.sender!.resend(signedHex);
  }
}
