// The operator: job calls from the chain → the job store → the sandbox engine → a hashed,
// signed result submitted on-chain. Every call is recorded before it runs and marked after its
// result is included, so a restart finishes what was in flight and never submits twice.
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import type { Logger } from 'pino';
import { BadJobArgs, JOB_EXECUTE, decodeExecuteArgs, fieldText } from '../../blueprint/index.js';
import type { FieldCodec } from '../../blueprint/index.js';
import type { JobCall, TangleClient } from '../chain/index.js';
import { FaaSError } from '../errors.js';
import type { ExecuteRequestInput, SandboxEngine } from '../sandbox/index.js';
import type { JobStore, StoredJob } from '../store/index.js';
import { outputHash, resultFields, signOutput } from './result.js';
import type { OutputToSign } from './result.js';

export interface OperatorDeps {
  client: TangleClient;
  engine: SandboxEngine;
  store: JobStore;
  signer: KeyringPair;
  /** The services this operator serves; calls of other services are ignored. */
  services: ReadonlySet<bigint>;
  log: Logger;
}

/** A job argument as text: every `execute` argument is a String field; anything else is refused. */
function argText(f: Codec, index: number): string {
  const field = f as unknown as FieldCodec;
  if (field.type !== 'String') throw new BadJobArgs(`args[${index}]`, `expected a String field, got ${field.type}`);
  return fieldText(field);
}

export class Operator {
  private unsubscribe: (() => void) | null = null;
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly d: OperatorDeps) {}

  async start(): Promise<void> {
    for (const job of this.d.store.unfinished()) this.track(job); // what a crash left
    // Calls on-chain without a result, also those this store never saw (a lost or new database).
    for (const call of await this.d.client.pendingJobCalls([...this.d.services])) this.onCall(call);
    const last = this.d.store.lastBlock;
    this.unsubscribe = await this.d.client.subscribeJobCalls((call) => this.onCall(call), {
      fromBlock: last === null ? undefined : last + 1,
      onBlockScanned: (n) => {
        this.d.store.lastBlock = n;
      },
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Resolves when every job known so far has been submitted (or failed to). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight.values()]);
  }

  private onCall(call: JobCall): void {
    if (!this.d.services.has(call.serviceId)) {
      this.d.log.debug({ serviceId: String(call.serviceId), callId: String(call.callId) }, 'job call for a service we do not serve');
      return;
    }
    let args: string[];
    try {
      args = call.args.map(argText);
    } catch (err) {
      args = [`\u0000invalid: ${(err as Error).message}`];
    }
    const fresh = this.d.store.insert({ serviceId: call.serviceId, callId: call.callId, job: call.job, caller: call.caller, args, blockNumber: call.blockNumber });
    if (fresh) this.track(this.d.store.get(call.serviceId, call.callId)!);
  }

  private track(job: StoredJob): void {
    const key = `${job.serviceId}/${job.callId}`;
    if (this.inFlight.has(key)) return;
    const p = this.process(job)
      .catch((err: Error) => this.d.log.error({ err: err.message, job: key }, 'job failed; it stays in the store for the next start'))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
  }

  private async process(job: StoredJob): Promise<void> {
    let fields = job.result;
    if (!fields) {
      const output = await this.execute(job);
      const hash = outputHash(output);
      fields = resultFields(output, hash, signOutput(this.d.signer, hash));
      this.d.store.setResult(job.serviceId, job.callId, fields, { hash, ...output });
    }
    // A result may be on-chain already: our own, submitted just before a crash.
    if (!(await this.d.client.hasResult(job.serviceId, job.callId))) {
      await this.d.client.submitResult(job.serviceId, job.callId, fields);
    }
    this.d.store.markSubmitted(job.serviceId, job.callId);
    this.d.log.info({ serviceId: String(job.serviceId), callId: String(job.callId) }, 'result submitted');
  }

  /** A full queue or a restarting engine is not the user's fault: wait and try again. */
  private async executeWithRetry(request: ExecuteRequestInput, owner: string) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.d.engine.execute(request, { owner });
      } catch (err) {
        if (!(err instanceof FaaSError && err.retryable) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5_000)));
      }
    }
  }

  /** Runs the job; bad input or a refused request becomes an error result, never silence. */
  private async execute(job: StoredJob): Promise<OutputToSign> {
    try {
      if (job.job !== JOB_EXECUTE) throw new BadJobArgs('job', `unknown job ${job.job}; this blueprint has job ${JOB_EXECUTE} (execute)`);
      if (job.args[0]?.startsWith('\u0000invalid: ')) throw new BadJobArgs('args', job.args[0].slice(10));
      const a = decodeExecuteArgs(job.args);
      const request = { code: a.code, language: a.language, mode: a.mode, resources: a.resources, envVars: a.envVars, stdin: a.stdin };
      // Calls found in storage do not name their caller: they share one owner per service.
      const r = await this.executeWithRetry(request as ExecuteRequestInput, job.caller || `service-${job.serviceId}`);
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const code = err instanceof FaaSError ? err.code : err instanceof BadJobArgs ? 'VALIDATION_ERROR' : 'INTERNAL_ERROR';
      if (code === 'INTERNAL_ERROR') this.d.log.error({ err: (err as Error).message }, 'execution failed');
      return { exitCode: 255, stdout: '', stderr: `error ${code}: ${(err as Error).message}\n` };
    }
  }
}
