// TangleFaaSClient: submit FaaS jobs on Tangle and get back results you can verify. Results are
// collected from `JobResultSubmitted` events (storage keeps only the last one); each counts only
// if its submitter operates the service and its signature over the job's statement checks
// against that operator's registered key; `waitForResult` resolves when `quorum` operators
// agree. The blueprint and operator set come from the service's on-chain record.
// With `chain: 'evm'` the same surface runs on Tangle's EVM protocol (tnt-core): the chain reads
// are in ./tangle/evm.ts, the checks and the quorum are shared (./tangle/verify.ts).
import { EventEmitter } from 'node:events';
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import { JOB_EXECUTE, argsHash, encodeExecuteArgs } from '../blueprint/index.js';
import type { FieldCodec } from '../blueprint/index.js';
import { ChainTxError, TxSender, accountFromUri, callKey, connectApi, followChainEvents, readJobCall, readRegistration, readService, scanBlocks } from '../chain/index.js';
import type { ExternalSigner, ServiceRecord } from '../chain/index.js';
import { ConnectionError, FaaSError, TimeoutError, ValidationError } from '../errors.js';
import { agreement, decide, defaultQuorum, verifyOperatorResult } from './tangle/verify.js';
import type { JobContext, JobResult, OperatorResult } from './tangle/verify.js';

import { EvmTangleFaaSClient } from './tangle/evm.js';
import type { EvmFaaSClientConfig } from './tangle/evm.js';
import type { JobUpdate } from './tangle/job-update.js';

export { verifyOperatorResult, defaultQuorum, agreement } from './tangle/verify.js';
export type { EvmFaaSClientConfig } from './tangle/evm.js';
export type { OperatorResult, JobContext, Agreement, JobResult } from './tangle/verify.js';

export interface TangleFaaSClientConfig {
  rpcUrl: string;
  /** The FaaS blueprint; a service of another blueprint is refused. */
  blueprintId: number | bigint;
  /** The service to call; by default the first service of the blueprint this account may call. */
  serviceId?: number | bigint;
  /** The caller's account: a mnemonic or dev URI (e.g. //Alice), a keyring pair, or
   *  `{ address, signer }` (a browser wallet's injected signer). */
  account: TangleAccount;
  /** An API connection to share (several clients in one process, or an app's own): blocks are
   *  then read once for all of them. `disconnect()` leaves it open. */
  api?: ApiPromise;
  /** Default true: a node that cannot be reached at the first use rejects that call with a
   *  ConnectionError (nothing keeps retrying). False: wait and retry every second until it is up. */
  throwOnConnect?: boolean;
  /** Logs connecting, the service found, submissions and results to stderr. */
  debug?: boolean;
}

export type TangleAccount = string | KeyringPair | ExternalSigner;

export interface JobRequest {
  code: string;
  language: string;
  mode?: string;
  resources?: Record<string, unknown>;
  envVars?: Record<string, string>;
  stdin?: string;
}

export type { JobStatus, JobUpdate } from './tangle/job-update.js';

/** The most of a full output's answer a client reads from an operator's API (the operator caps
 *  each stream at FAAS_MAX_OUTPUT_BYTES, 1 MiB by default; JSON escaping may grow text up to 6×). */
export const MAX_OUTPUT_ANSWER_BYTES = 16 * 1024 * 1024;

/** The full output behind `hash` from the operator's API (its registered address). The answer is
 *  an untrusted operator's: read up to MAX_OUTPUT_ANSWER_BYTES within `timeoutMs` in all, and
 *  only an {exitCode: integer, stdout: string, stderr: string} is taken. */
export async function fetchFullOutput(apiUrl: string, hash: string, timeoutMs = 10_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/v1/outputs/${hash}`, { signal });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > MAX_OUTPUT_ANSWER_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`the answer is over ${MAX_OUTPUT_ANSWER_BYTES} bytes`);
    }
    chunks.push(chunk as Uint8Array);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`${res.status}: the answer is not JSON`);
  }
  const b = body as { exitCode?: unknown; stdout?: unknown; stderr?: unknown; message?: unknown };
  if (!res.ok) throw new Error(`${res.status} ${typeof b?.message === 'string' ? b.message.slice(0, 200) : ''}`.trim());
  if (!b || !Number.isInteger(b.exitCode) || typeof b.stdout !== 'string' || typeof b.stderr !== 'string') throw new Error('the answer is not {exitCode, stdout, stderr}');
  return { exitCode: b.exitCode as number, stdout: b.stdout, stderr: b.stderr };
}

const RECENT_RESULTS = 10_000;

interface Watch {
  job: Promise<JobContext>;
  raw: Array<{ operator: string; fields: FieldCodec[] }>;
  wake: (() => void) | null;
}

export class TangleFaaSClient extends EventEmitter {
  private api: ApiPromise | null = null;
  private connecting: Promise<ApiPromise> | null = null;
  // Jobs submitted at once each take the next nonce, so they do not collide.
  private sender: TxSender | null = null;
  private serviceRecord: Promise<ServiceRecord> | null = null;
  private readonly registrations = new Map<string, Promise<{ key: string; rpcAddress: string } | null>>();
  /** One follower for every waiting job: results of each block are read once. */
  private follower: Promise<() => void> | null = null;
  private readonly watches = new Map<string, Watch>();
  /** Results the follower saw for calls nobody watched yet (a submitter may register a moment
   *  after its result landed); the oldest go first past RECENT_RESULTS. */
  private readonly recent = new Map<string, Watch['raw']>();
  private readonly config: TangleFaaSClientConfig;
  /** With `chain: 'evm'`: the EVM protocol's reads and writes. */
  private readonly evm: EvmTangleFaaSClient | null = null;

  constructor(config: TangleFaaSClientConfig | EvmFaaSClientConfig) {
    super();
    if ('chain' in config && config.chain === 'evm') {
      this.evm = new EvmTangleFaaSClient({ ...config, fetchOutput: config.fetchOutput ?? ((url, hash) => fetchFullOutput(url, hash)) }, (u) => this.emit('jobUpdate', u));
    }
    this.config = config as TangleFaaSClientConfig;
  }

  /** Connects (also done on first use). */
  async connect(): Promise<void> {
    if (this.evm) return this.evm.connect();
    await this.chain();
  }

  async disconnect(): Promise<void> {
    if (this.evm) return;
    const stop = await this.follower?.catch(() => null);
    stop?.();
    this.follower = null;
    if (!this.config.api) await this.api?.disconnect();
    this.api = null;
    this.connecting = null;
  }

  private log(what: string): void {
    if (this.config.debug) process.stderr.write(`[faas tangle] ${what}\n`);
  }

  private async chain(): Promise<ApiPromise> {
    if (this.api) return this.api;
    if (!this.connecting) {
      const { rpcUrl } = this.config;
      this.log(`connecting to ${rpcUrl}`);
      const connecting = (this.config.api ? this.config.api.isReady : connectApi(rpcUrl, { throwOnConnect: this.config.throwOnConnect ?? true })).then(
        (api) => {
          const a = this.config.account;
          this.sender = new TxSender(api, typeof a === 'string' ? accountFromUri(api, a) : a);
          this.api = api;
          this.log(`connected to ${rpcUrl} (genesis ${api.genesisHash.toHex()}) as ${this.sender.address}`);
          return api;
        },
        (err: unknown) => {
          this.log(`cannot connect to ${rpcUrl}: ${(err as Error)?.message ?? String(err)}`);
          throw new ConnectionError(`cannot connect to the chain node at ${rpcUrl}: ${(err as Error)?.message ?? String(err)}`, rpcUrl, err);
        },
      );
      this.connecting = connecting;
      connecting.catch(() => (this.connecting = null)); // the next call tries again
    }
    return this.connecting;
  }

  /** The service's on-chain record; its blueprint must be the configured one. */
  service(): Promise<ServiceRecord> {
    this.serviceRecord ??= (async () => {
      const api = await this.chain();
      const blueprintId = BigInt(this.config.blueprintId);
      const serviceId = this.config.serviceId === undefined ? await this.findService(api, blueprintId) : BigInt(this.config.serviceId);
      const record = await readService(api, serviceId);
      if (!record) throw new ValidationError('serviceId', `service ${serviceId} does not exist on ${this.config.rpcUrl}`);
      if (record.blueprintId !== blueprintId) {
        throw new ValidationError('blueprintId', `service ${serviceId} is an instance of blueprint ${record.blueprintId}, not ${blueprintId}`);
      }
      this.log(`service ${serviceId} of blueprint ${blueprintId}: ${record.operators.length} operator(s)`);
      return record;
    })();
    this.serviceRecord.catch(() => (this.serviceRecord = null));
    return this.serviceRecord;
  }

  /** The first (lowest id) service of the blueprint that this account owns or may call. */
  private async findService(api: ApiPromise, blueprintId: bigint): Promise<bigint> {
    const me = this.sender!.address;
    const ids: bigint[] = [];
    for (const [key] of await api.query.services!.instances!.entries()) {
      const id = BigInt(key.args[0]!.toString());
      const s = await readService(api, id);
      if (s && s.blueprintId === blueprintId && (s.owner === me || s.permittedCallers.includes(me))) ids.push(id);
    }
    if (!ids.length) throw new ValidationError('serviceId', `no service of blueprint ${blueprintId} lets ${me} call it; pass serviceId or request a service`);
    return ids.sort((a, b) => (a < b ? -1 : 1))[0]!;
  }

  /** Calls job 0 `execute`; resolves with the job id (the call id) once the call is included. */
  async submitJob(req: JobRequest): Promise<bigint> {
    if (this.evm) return this.evm.submitJob(req);
    const api = await this.chain();
    const service = await this.service();
    const tx = api.tx.services!.call!(service.serviceId, JOB_EXECUTE, encodeExecuteArgs(req));
    const included = await this.sender!.send(tx, 'inBlock').catch((err: Error) => {
      throw new FaaSError('VALIDATION_ERROR', `services.call failed: ${err instanceof ChainTxError ? err.reason : err.message}`);
    });
    const called = included.records.find((e) => e.section === 'services' && e.method === 'JobCalled');
    if (!called) throw new FaaSError('INTERNAL_ERROR', 'services.call was included but emitted no JobCalled event');
    const jobId = BigInt(called.data[2]!.toString());
    const args = [...(called.data[4] as unknown as Iterable<Codec>)];
    const job = Number(called.data[3]!.toString());
    // Watch from the block the call is in: results can only come after it.
    this.watch(service, jobId, Promise.resolve(this.context(api, service, jobId, job, args)), included.blockNumber);
    this.log(`job ${jobId} submitted to service ${service.serviceId} in block ${included.blockNumber}`);
    this.emit('jobUpdate', { jobId, status: 'submitted' } satisfies JobUpdate);
    return jobId;
  }

  private context(api: ApiPromise, service: ServiceRecord, callId: bigint, job: number, args: Codec[]): JobContext {
    return { genesisHash: api.genesisHash.toHex(), blueprintId: service.blueprintId, serviceId: service.serviceId, callId, job, argsHash: argsHash(args) };
  }

  private watch(service: ServiceRecord, jobId: bigint, job: Promise<JobContext>, fromBlock: number): Watch {
    const key = callKey(service.serviceId, jobId);
    let w = this.watches.get(key);
    if (!w) {
      w = { job, raw: this.recent.get(key) ?? [], wake: null };
      this.recent.delete(key);
      this.watches.set(key, w);
    }
    if (!this.follower) {
      const follower = followChainEvents(this.api!, { fromBlock }, (event) => {
        if (event.section !== 'services' || event.method !== 'JobResultSubmitted') return;
        const [operator, sid, cid, , result] = event.data;
        if (BigInt(sid!.toString()) !== service.serviceId) return;
        const k = callKey(service.serviceId, BigInt(cid!.toString()));
        const seen = { operator: operator!.toString(), fields: [...(result as unknown as Iterable<FieldCodec>)] };
        const target = this.watches.get(k);
        if (target) {
          target.raw.push(seen);
          target.wake?.();
          return;
        }
        this.recent.set(k, [...(this.recent.get(k) ?? []), seen]);
        if (this.recent.size > RECENT_RESULTS) this.recent.delete(this.recent.keys().next().value!);
      });
      this.follower = follower;
      follower.catch(() => (this.follower = null));
    }
    return w;
  }

  /**
   * Waits until `quorum` operators of the service (default: 1 for a one-operator service, a
   * majority otherwise) have submitted verified results that sign the same statement, and
   * resolves with it. A job not submitted through this client is looked for from
   * `fromBlock` (default: 1,000 blocks back). When every operator answered without a quorum,
   * it resolves with `verified: false` and the disagreement.
   */
  async waitForResult(jobId: bigint | number, opts: { timeoutMs?: number; quorum?: number; fromBlock?: number } = {}): Promise<JobResult> {
    if (this.evm) return this.evm.waitForResult(jobId, opts);
    const id = BigInt(jobId);
    const api = await this.chain();
    const service = await this.service();
    const quorum = opts.quorum ?? defaultQuorum(service.operators.length);
    if (!Number.isInteger(quorum) || quorum < 1 || quorum > service.operators.length) {
      throw new ValidationError('quorum', `must be a whole number from 1 to the service's ${service.operators.length} operators, got ${quorum}`);
    }
    const key = callKey(service.serviceId, id);
    let w = this.watches.get(key);
    if (!w) {
      const head = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
      const job = readJobCall(api, service.serviceId, id).then((c) => {
        if (!c) throw new ValidationError('jobId', `service ${service.serviceId} has no job call ${id}`);
        return this.context(api, service, id, c.job, c.args);
      });
      w = this.watch(service, id, job, opts.fromBlock ?? Math.max(0, head - 1000));
      await this.scanPast(service, id, w, opts.fromBlock ?? Math.max(0, head - 1000), head);
    }
    const watch = w;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const checked: OperatorResult[] = [];
    let cursor = 0;
    let executing = false;
    void this.watchExecuting(service, id, () => checked.length > 0 || Date.now() > deadline, () => (executing = true));
    try {
      const ctx = await watch.job;
      for (;;) {
        for (; cursor < watch.raw.length; cursor++) {
          const { operator, fields } = watch.raw[cursor]!;
          // One result per operator is checked (a second one cannot add a vote, and each check
          // may fetch from that operator's API): an operator cannot stall the wait with repeats.
          if (checked.some((c) => c.operator === operator)) continue;
          const r = await verifyOperatorResult(ctx, operator, fields, {
            operators: service.operators,
            registration: (op) => this.registration(api, service.blueprintId, op),
            fetchOutput: (url, hash) => fetchFullOutput(url, hash, Math.max(1_000, Math.min(10_000, deadline - Date.now()))),
          });
          checked.push(r);
          this.log(`job ${id}: result of ${operator} (${r.verified ? 'verified' : `refused: ${r.verificationError ?? 'unverified'}`})`);
          this.emit('jobUpdate', { jobId: id, status: 'result', operatorResult: r } satisfies JobUpdate);
        }
        const out = decide(id, checked, quorum, service.operators.length);
        if (out) {
          this.emit('jobUpdate', { jobId: id, status: out.exitCode === 0 && out.verified ? 'completed' : 'failed', result: out } satisfies JobUpdate);
          return out;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          const why = checked.length ? `${agreement(checked).agreed.length} of ${quorum} operators agree so far` : executing ? 'an operator is executing it' : 'no operator answered';
          throw new TimeoutError(`no verified result for job ${id} within ${timeoutMs} ms (${why})`);
        }
        await new Promise<void>((res) => {
          const t = setTimeout(res, left);
          watch.wake = () => {
            clearTimeout(t);
            res();
          };
        });
        watch.wake = null;
      }
    } finally {
      this.watches.delete(key);
      // Nothing left to watch: stop reading blocks (the next submit starts from its own block).
      if (!this.watches.size && this.follower) {
        const follower = this.follower;
        this.follower = null;
        void follower.then((stop) => stop(), () => undefined);
      }
    }
  }

  /** Results submitted before this client watched: read from blocks `from`..`to`. */
  private async scanPast(service: ServiceRecord, jobId: bigint, w: Watch, from: number, to: number): Promise<void> {
    await scanBlocks(this.api!, { from, to }, (event) => {
      if (event.section !== 'services' || event.method !== 'JobResultSubmitted') return;
      const [operator, sid, cid, , result] = event.data;
      if (BigInt(sid!.toString()) !== service.serviceId || BigInt(cid!.toString()) !== jobId) return;
      const fields = [...(result as unknown as Iterable<FieldCodec>)];
      // The live follower may have seen it too: one entry per operator and result.
      if (!w.raw.some((r) => r.operator === operator!.toString() && r.fields.length === fields.length && r.fields.every((f, i) => f.toU8a().toString() === fields[i]!.toU8a().toString()))) {
        w.raw.push({ operator: operator!.toString(), fields });
      }
    });
  }

  private registration(api: ApiPromise, blueprintId: bigint, operator: string): Promise<{ key: string; rpcAddress: string } | null> {
    const k = `${blueprintId}/${operator}`;
    let r = this.registrations.get(k);
    if (!r) {
      r = readRegistration(api, blueprintId, operator);
      this.registrations.set(k, r);
      r.catch(() => this.registrations.delete(k));
    }
    return r;
  }

  /** Emits 'executing' once an operator of the service reports the call received (its API's
   *  GET /v1/jobs/:serviceId/:callId); nothing on-chain says when execution starts. */
  private async watchExecuting(service: ServiceRecord, jobId: bigint, finished: () => boolean, seen: () => void): Promise<void> {
    try {
      const urls: string[] = [];
      for (const op of service.operators) {
        const reg = await this.registration(this.api!, service.blueprintId, op);
        if (reg) urls.push(`${reg.rpcAddress.replace(/\/+$/, '')}/v1/jobs/${service.serviceId}/${jobId}`);
      }
      // Most jobs finish before the first look; the looks thin out as a job takes longer.
      for (let wait = 50; !finished() && urls.length; wait = Math.min(wait * 2, 1000)) {
        await new Promise((r) => setTimeout(r, wait));
        for (const url of urls) {
          if (finished()) return;
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => null);
          if (res?.ok && !finished()) {
            seen();
            this.emit('jobUpdate', { jobId, status: 'executing' } satisfies JobUpdate);
            return;
          }
        }
      }
    } catch {
      /* best effort: the result still arrives */
    }
  }
}
