// The TangleClient on Tangle's EVM protocol (tnt-core): job calls are the Tangle contract's
// JobSubmitted logs, read by block range — from where the operator stopped (catching up after
// a restart or a lost node) to the followed head (latest, or finalized) — and results go out
// with `submitResult(serviceId, callId, bytes)`, signed here with locally reserved nonces.
import { createPublicClient, decodeEventLog, http, keccak256, zeroAddress } from 'viem';
import type { Address, Hex, Log, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Logger } from 'pino';
import { decodeEvmExecuteArgs, evmArgsHash } from '@faas/sdk/blueprint';
import type { EvmChainIdentity } from '@faas/sdk/blueprint';
import type { JobCall, TangleClient } from '../client.js';
import { CallClosedError, ChainTxError, callKey } from '@faas/sdk/chain';
import type { Included, SendOptions, ServiceRecord } from '@faas/sdk/chain';
import { EvmTxSender, statusRegistryAbi, tangleAbi } from '@faas/sdk/chain/evm';

export interface EvmClientOptions {
  rpcUrl: string;
  /** The operator account's private key (0x…); never logged. */
  privateKey: Hex;
  /** The Tangle contract (its proxy). */
  tangle: Address;
  log: Logger;
  /** Which head to act on: latest (default; a dev node's blocks are final at once) or finalized. */
  follow?: 'latest' | 'finalized';
  /** How often the head is polled (ms; default 25). */
  pollMs?: number;
  /** tnt-core's OperatorStatusRegistry (default: the one the Tangle contract names). */
  statusRegistry?: Address;
  /** The first block worth reading logs from (the Tangle contract's deployment; default 0):
   *  on a long chain, reading from genesis would be millions of log queries. */
  fromBlock?: number;
}

/** Blocks per log query. */
const LOG_RANGE = 5_000n;
const jobSubmitted = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobSubmitted')!;
const resultSubmitted = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;

export class EvmTangleClient implements TangleClient {
  private pub: PublicClient | null = null;
  private sender: EvmTxSender | null = null;
  private identity: EvmChainIdentity | null = null;
  private genesis = '';
  readonly address: Address;

  constructor(private readonly opts: EvmClientOptions) {
    this.address = privateKeyToAccount(opts.privateKey).address;
  }

  get genesisHash(): string {
    return this.genesis;
  }

  /** What the EVM statement binds: chain id and Tangle contract. */
  get evm(): EvmChainIdentity {
    if (!this.identity) throw new Error('not connected');
    return this.identity;
  }

  private client(): PublicClient {
    if (!this.pub) throw new Error('not connected');
    return this.pub;
  }

  async connect(): Promise<void> {
    const pub = createPublicClient({ transport: http(this.opts.rpcUrl, { retryCount: 2, retryDelay: 100 }) });
    const chainId = await pub.getChainId();
    this.genesis = (await pub.getBlock({ blockNumber: 0n })).hash;
    this.pub = pub;
    this.identity = { chainId: BigInt(chainId), tangle: this.opts.tangle };
    this.sender = new EvmTxSender(pub, privateKeyToAccount(this.opts.privateKey), chainId, this.opts.follow ?? 'latest');
  }

  async disconnect(): Promise<void> {
    this.pub = null;
  }

  async head(): Promise<number> {
    const pub = this.client();
    if (this.opts.follow === 'finalized') return Number((await pub.getBlock({ blockTag: 'finalized' })).number);
    return Number(await pub.getBlockNumber({ cacheTime: 0 }));
  }

  private get firstBlock(): number {
    return this.opts.fromBlock ?? 0;
  }

  /** Logs of one event of the Tangle contract in blocks from..to, in chunks. */
  private async logs(event: typeof jobSubmitted | typeof resultSubmitted, from: number, to: number, args?: Record<string, unknown>): Promise<Log[]> {
    const out: Log[] = [];
    for (let a = BigInt(from); a <= BigInt(to); a += LOG_RANGE) {
      const b = a + LOG_RANGE - 1n < BigInt(to) ? a + LOG_RANGE - 1n : BigInt(to);
      out.push(...(await this.client().getLogs({ address: this.opts.tangle, event, args, fromBlock: a, toBlock: b } as Parameters<PublicClient['getLogs']>[0])));
    }
    return out;
  }

  private toJobCall(log: Log): JobCall {
    const { args } = decodeEventLog({ abi: tangleAbi, eventName: 'JobSubmitted', data: log.data, topics: log.topics });
    let texts: string[] = [];
    let argsError: string | undefined;
    try {
      texts = decodeEvmExecuteArgs(args.inputs);
    } catch (err) {
      argsError = (err as Error).message;
    }
    return { serviceId: args.serviceId, callId: args.callId, job: args.jobIndex, caller: args.caller, args: [], texts, argsError, argsHash: evmArgsHash(args.inputs), blockNumber: Number(log.blockNumber), blockHash: log.blockHash ?? '' };
  }

  async subscribeJobCalls(handler: (call: JobCall) => void, opts: { fromBlock?: number; onBlockScanned?: (n: number) => void } = {}): Promise<() => void> {
    let next: number | null = opts.fromBlock ?? null;
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    const tick = async () => {
      try {
        const head = await this.head();
        next ??= head;
        // A node that went away and came back (or a gap): the range since the last scanned
        // block is read in one go, so nothing in between is missed.
        while (next <= head && !stopped) {
          const to = Math.min(head, next + Number(LOG_RANGE) - 1);
          const logs = await this.logs(jobSubmitted, next, to);
          if (stopped) return;
          for (const log of logs) handler(this.toJobCall(log));
          opts.onBlockScanned?.(to);
          next = to + 1;
        }
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message.split('\n')[0] }, 'log scan failed; retrying');
      } finally {
        if (!stopped) timer = setTimeout(() => void tick(), this.opts.pollMs ?? 25);
      }
    };
    await tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }

  async service(serviceId: bigint): Promise<ServiceRecord | null> {
    const pub = this.client();
    const s = await pub.readContract({ address: this.opts.tangle, abi: tangleAbi, functionName: 'getService', args: [serviceId] }).catch(() => null);
    if (!s || s.owner === zeroAddress) return null;
    const operators = await pub.readContract({ address: this.opts.tangle, abi: tangleAbi, functionName: 'getServiceOperators', args: [serviceId] });
    return { serviceId, blueprintId: s.blueprintId, owner: s.owner, operators: [...operators], permittedCallers: [] };
  }

  /** The block of each call the last `storedJobCalls` read (where `hasResult` looks from). */
  private callBlocks = new Map<string, number>();

  /** Every JobSubmitted of these services since `fromBlock`: logs keep them all (with their callers). */
  async storedJobCalls(serviceIds: bigint[]): Promise<JobCall[]> {
    if (!serviceIds.length) return [];
    const logs = await this.logs(jobSubmitted, this.firstBlock, await this.head(), { serviceId: serviceIds });
    const calls = logs.map((l) => this.toJobCall(l));
    this.callBlocks = new Map(calls.map((c) => [callKey(c.serviceId, c.callId), c.blockNumber]));
    return calls.sort((a, b) => (a.serviceId === b.serviceId ? Number(a.callId - b.callId) : Number(a.serviceId - b.serviceId)));
  }

  async ownResults(fromBlock: number): Promise<Set<string>> {
    const logs = await this.logs(resultSubmitted, Math.max(this.firstBlock, fromBlock), await this.head(), { operator: this.address });
    return new Set(logs.map((l) => {
      const { args } = decodeEventLog({ abi: tangleAbi, eventName: 'JobResultSubmitted', data: l.data, topics: l.topics });
      return callKey(args.serviceId, args.callId);
    }));
  }

  async history(fromBlock: number): Promise<{ answered: Set<string>; callers: Map<string, string> }> {
    const answered = await this.ownResults(fromBlock);
    const callers = new Map<string, string>();
    for (const log of await this.logs(jobSubmitted, Math.max(this.firstBlock, fromBlock), await this.head())) {
      const c = this.toJobCall(log);
      callers.set(callKey(c.serviceId, c.callId), c.caller);
    }
    return { answered, callers };
  }

  /** Nothing (more) for this operator to submit: its own result is logged (looked for from the
   *  call's block, when this client read the call), or the call is completed — it then takes no
   *  results. */
  async hasResult(serviceId: bigint, callId: bigint): Promise<boolean> {
    const c = await this.client().readContract({ address: this.opts.tangle, abi: tangleAbi, functionName: 'getJobCall', args: [serviceId, callId] });
    if (c.completed) return true;
    if (c.resultCount === 0) return false;
    const from = this.callBlocks.get(callKey(serviceId, callId)) ?? this.firstBlock;
    return (await this.logs(resultSubmitted, from, await this.head(), { serviceId, callId, operator: this.address })).length > 0;
  }

  /** `result` is `[abi-encoded result bytes]` (see blueprint/evm.ts). A call the other
   *  operators' results completed (the service's manager asked for fewer results than it has
   *  operators) refuses it: CallClosedError. */
  async submitResult(serviceId: bigint, callId: bigint, result: unknown[], opts: SendOptions = {}): Promise<Included> {
    try {
      return await this.sender!.send({ to: this.opts.tangle, abi: tangleAbi, functionName: 'submitResult', args: [serviceId, callId, result[0] as Hex] }, opts);
    } catch (err) {
      if (err instanceof ChainTxError && err.refused && /JobAlreadyCompleted/.test(err.reason)) throw new CallClosedError(serviceId, callId);
      throw err;
    }
  }

  private registry: Promise<Address> | null = null;

  /** The OperatorStatusRegistry heartbeats go to. */
  statusRegistry(): Promise<Address> {
    this.registry ??= this.opts.statusRegistry
      ? Promise.resolve(this.opts.statusRegistry)
      : this.client().readContract({ address: this.opts.tangle, abi: tangleAbi, functionName: 'operatorStatusRegistry' });
    this.registry.catch(() => (this.registry = null));
    return this.registry;
  }

  /** One heartbeat for a service: `submitHeartbeat` with the EIP-712 `Heartbeat` signature the
   *  registry checks (operator, service, blueprint, status, metrics hash, and a timestamp — the
   *  latest block's, so it is never ahead of the block it lands in). Status 0 = healthy. */
  async heartbeat(serviceId: bigint, blueprintId: bigint, statusCode = 0, metrics: Hex = '0x'): Promise<Included> {
    const registry = await this.statusRegistry();
    const timestamp = (await this.client().getBlock({ blockTag: 'latest' })).timestamp;
    const signature = await this.sender!.account.signTypedData({
      domain: { name: 'OperatorStatusRegistry', version: '1', chainId: this.evm.chainId, verifyingContract: registry },
      types: { Heartbeat: [{ name: 'operator', type: 'address' }, { name: 'serviceId', type: 'uint64' }, { name: 'blueprintId', type: 'uint64' }, { name: 'statusCode', type: 'uint8' }, { name: 'metricsHash', type: 'bytes32' }, { name: 'timestamp', type: 'uint64' }] },
      primaryType: 'Heartbeat',
      message: { operator: this.address, serviceId, blueprintId, statusCode, metricsHash: keccak256(metrics), timestamp },
    });
    // In a block is enough: a beat need not wait for finality (the next one comes anyway).
    return this.sender!.send({ to: registry, abi: statusRegistryAbi, functionName: 'submitHeartbeat', args: [serviceId, blueprintId, statusCode, metrics, timestamp, signature] }, { until: 'included' });
  }

  /** The registry's heartbeat interval for a service (seconds; its default when not configured). */
  async heartbeatInterval(serviceId: bigint): Promise<number> {
    const c = await this.client().readContract({ address: await this.statusRegistry(), abi: statusRegistryAbi, functionName: 'getHeartbeatConfig', args: [serviceId] });
    return Number(c.interval);
  }

  resendResult(signedHex: string): Promise<Included> {
    return this.sender!.resend(signedHex as Hex);
  }
}
