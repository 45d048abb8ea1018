// TangleFaaSClient's reading and writing on Tangle's EVM protocol (tnt-core): `submitJob` with
// ABI-encoded inputs, results from the Tangle contract's `JobResultSubmitted` logs, each checked
// with the shared rules (verify.ts) — a service operator from `getServiceOperators`, its key from
// `getOperatorPreferences`, the whole output by hash, the EVM statement's signature — and agreed
// on by `quorum` operators.
import { createPublicClient, decodeEventLog, http } from 'viem';
import type { Address, Hex, Log, PublicClient } from 'viem';
import { JOB_EXECUTE, decodeEvmResult, encodeEvmExecuteArgs, evmArgsHash, verifyEvmStatement } from '../../blueprint/index.js';
import { EvmAccount, readEvmRegistration, submitEvmJobAt, tangleAbi } from '../../chain/evm/index.js';
import type { JobUpdate } from './job-update.js';
import { NotFoundError, TimeoutError } from '../../errors.js';
import { checkResult, decide, defaultQuorum, malformedResult } from './verify.js';
import type { JobResult, OperatorResult, VerifyDeps } from './verify.js';

export interface EvmFaaSClientConfig {
  chain: 'evm';
  rpcUrl: string;
  /** The Tangle contract (proxy) address. */
  tangleAddress: Address;
  blueprintId: bigint | number;
  serviceId: bigint | number;
  /** The caller's private key. */
  account: Hex;
  /** The block the Tangle contract was deployed at: logs of jobs this client did not submit, and
   *  operators' registrations, are read from there (default 0: the whole chain — slow on a real one). */
  fromBlock?: bigint | number;
  /** The full output behind a hash, from an operator's API (default: its `/v1/outputs/:hash`). */
  fetchOutput?: VerifyDeps['fetchOutput'];
}

export class EvmTangleFaaSClient {
  private pub: PublicClient;
  private caller: EvmAccount | null = null;
  private readonly serviceId: bigint;

  constructor(
    private readonly c: EvmFaaSClientConfig & { fetchOutput: VerifyDeps['fetchOutput'] },
    /** Where job updates go (TangleFaaSClient's `jobUpdate` events). */
    private readonly update: (u: JobUpdate) => void = () => undefined,
  ) {
    this.pub = createPublicClient({ transport: http(c.rpcUrl) });
    this.serviceId = BigInt(c.serviceId);
  }

  async connect(): Promise<void> {
    this.caller = await EvmAccount.connect(this.c.rpcUrl, this.c.account);
    const s = await this.pub.readContract({ address: this.c.tangleAddress, abi: tangleAbi, functionName: 'getService', args: [this.serviceId] });
    if (s.blueprintId !== BigInt(this.c.blueprintId)) throw new Error(`service ${this.serviceId} belongs to blueprint ${s.blueprintId}, not ${this.c.blueprintId}`);
  }

  async submitJob(req: { code: string; language: string; mode?: string; resources?: object; envVars?: Record<string, string>; stdin?: string }): Promise<bigint> {
    if (!this.caller) await this.connect();
    const { callId: jobId, blockNumber } = await submitEvmJobAt(this.caller!, this.c.tangleAddress, this.serviceId, encodeEvmExecuteArgs(req), JOB_EXECUTE);
    this.submittedAt.set(jobId, blockNumber); // its JobSubmitted log is in that block: no scan
    this.update({ jobId, status: 'submitted' });
    return jobId;
  }

  private chainId: Promise<number> | null = null;
  private readonly registrations = new Map<string, Promise<{ key: string; rpcAddress: string } | null>>();
  private readonly calls = new Map<bigint, Promise<{ jobIndex: number; inputs: Hex; blockNumber: bigint }>>();
  /** Blocks that included the jobs this client submitted. */
  private readonly submittedAt = new Map<bigint, bigint>();
  private get fromBlock(): bigint {
    return BigInt(this.c.fromBlock ?? 0);
  }

  /** The call as JobSubmitted logged it (read once per job). */
  private call(jobId: bigint) {
    let c = this.calls.get(jobId);
    if (!c) {
      const from = this.submittedAt.get(jobId) ?? this.fromBlock;
      c = this.pub.getLogs({ address: this.c.tangleAddress, event: tangleAbi.find((x) => x.type === 'event' && x.name === 'JobSubmitted')!, args: { serviceId: this.serviceId, callId: jobId }, fromBlock: from, toBlock: this.submittedAt.get(jobId) }).then((logs) => {
        const log = logs[0];
        if (!log) throw new NotFoundError('job', `${jobId} of service ${this.serviceId} on-chain (its JobSubmitted log was looked for from block ${from}: fromBlock must be at or before the call)`);
        const { args } = decodeEventLog({ abi: tangleAbi, eventName: 'JobSubmitted', data: log.data, topics: log.topics });
        return { jobIndex: args.jobIndex, inputs: args.inputs, blockNumber: log.blockNumber! };
      });
      c.catch(() => this.calls.delete(jobId));
      this.calls.set(jobId, c);
    }
    return c;
  }

  private registration(blueprintId: bigint, operator: string) {
    let r = this.registrations.get(operator);
    if (!r) {
      r = readEvmRegistration(this.pub, this.c.tangleAddress, blueprintId, operator as Address, this.fromBlock);
      r.catch(() => this.registrations.delete(operator));
      this.registrations.set(operator, r);
    }
    return r;
  }

  /** Every result submitted for the call so far (or these result logs), checked. */
  async results(jobId: bigint, given?: { operators: readonly string[]; logs: Log[] }): Promise<OperatorResult[]> {
    const address = this.c.tangleAddress;
    const pub = this.pub;
    const job = await this.call(jobId);
    const operators = given?.operators ?? (await pub.readContract({ address, abi: tangleAbi, functionName: 'getServiceOperators', args: [this.serviceId] }));
    const blueprintId = BigInt(this.c.blueprintId);
    const deps: VerifyDeps = { operators: [...operators], registration: (op) => this.registration(blueprintId, op), fetchOutput: this.c.fetchOutput };
    const resultEvent = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;
    const read = () => pub.getLogs({ address, event: resultEvent, args: { serviceId: this.serviceId, callId: jobId }, fromBlock: job.blockNumber });
    const logs: Log[] = given ? given.logs : await read();
    this.chainId ??= pub.getChainId();
    const chain = { chainId: BigInt(await this.chainId), tangle: address };
    return Promise.all(
      logs.map(async (log) => {
        const { args } = decodeEventLog({ abi: tangleAbi, eventName: 'JobResultSubmitted', data: log.data, topics: log.topics }) as unknown as { args: { operator: Address; result: Hex } };
        let r;
        try {
          r = decodeEvmResult(args.result);
        } catch (err) {
          return malformedResult(args.operator, deps.operators.includes(args.operator), (err as Error).message);
        }
        const statement = { ...chain, blueprintId, serviceId: this.serviceId, callId: jobId, job: job.jobIndex, argsHash: evmArgsHash(job.inputs), imageHash: r.imageHash, exitCode: r.exitCode, outputHash: r.outputHash };
        return checkResult({ serviceId: this.serviceId, blueprintId }, args.operator, r, deps, (key) => verifyEvmStatement(statement, r.signature, key));
      }),
    );
  }

  /** Waits until `quorum` operators (default: a majority) signed the same verified statement,
   *  or every operator answered — or the call was completed on-chain with fewer — without one
   *  (then `verified` is false, with the reason). */
  async waitForResult(jobId: bigint | number, opts: { timeoutMs?: number; quorum?: number } = {}): Promise<JobResult> {
    const id = BigInt(jobId);
    const operators = await this.pub.readContract({ address: this.c.tangleAddress, abi: tangleAbi, functionName: 'getServiceOperators', args: [this.serviceId] });
    const quorum = opts.quorum ?? defaultQuorum(operators.length);
    if (!Number.isInteger(quorum) || quorum < 1 || quorum > operators.length) throw new Error(`quorum must be a whole number from 1 to the service's ${operators.length} operators, got ${quorum}`);
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const resultEvent = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;
    let seen = 0;
    let checked: OperatorResult[] = [];
    // Results come after the call: look from its block (a call not found yet: from the start).
    const from = await this.call(id).then((c) => c.blockNumber, () => this.fromBlock);
    // Every 10 ms for the first second (a local node answers within tens of ms), then calmer.
    const started = Date.now();
    for (let wait = 10; ; wait = Date.now() - started < 1_000 ? 10 : Math.min(Math.round(wait * 1.5), 250)) {
      // A call tnt-core completed (its service manager's result count reached) takes no more
      // results: read before the logs, so those logs hold all there will ever be.
      const closed = seen > 0 && (await this.pub.readContract({ address: this.c.tangleAddress, abi: tangleAbi, functionName: 'getJobCall', args: [this.serviceId, id] })).completed;
      // A cheap look for new result logs first; the checks run when there are new ones.
      const logs = await this.pub.getLogs({ address: this.c.tangleAddress, event: resultEvent, args: { serviceId: this.serviceId, callId: id }, fromBlock: from });
      if (logs.length > seen || closed) {
        if (logs.length > seen) {
          checked = await this.results(id, { operators, logs });
          for (const r of checked.slice(seen)) this.update({ jobId: id, status: 'result', operatorResult: r });
          seen = checked.length;
        }
        // Closed: the operators that answered are all that will (decided now, verified or not).
        const out = decide(id, checked, quorum, closed ? new Set(checked.filter((r) => r.trusted).map((r) => r.operator)).size : operators.length);
        if (out) {
          this.update({ jobId: id, status: out.exitCode === 0 && out.verified ? 'completed' : 'failed', result: out });
          return out;
        }
      }
      if (Date.now() > deadline) throw new TimeoutError(`no verified result for job ${id} within the timeout (${seen} results so far)`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
