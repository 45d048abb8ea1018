// The operator: job calls from the chain → the job store → the sandbox engine → a signed
// statement submitted on-chain. Every call is recorded before it runs; the signed result
// transaction is journaled before it is sent; a restart finishes what was in flight and never
// submits a second result of its own. Several operators may serve one service: each answers
// every call, and skips only the calls *it* has answered (never because another one did).
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import type { Logger } from 'pino';
import { BadJobArgs, JOB_EXECUTE, decodeExecuteArgs, encodeEvmResult, encodeResult, fieldText, outputHash, signEvmStatement, signStatement } from '@faas/sdk/blueprint';
import type { FieldCodec, OutputToSign } from '@faas/sdk/blueprint';
import { CallClosedError, ChainTxError, callKey } from '../tangle/index.js';
import type { JobCall, TangleClient } from '../tangle/index.js';
import { FaaSError } from '@faas/sdk/errors';
import { LanguageSchema } from '../sandbox/index.js';
import type { ExecuteRequestInput, SandboxEngine } from '../sandbox/index.js';
import type { JobStore, StoredJob } from '../store/index.js';

/** The image hash of a result no sandbox produced (the arguments were refused before one ran). */
export const NO_IMAGE = `0x${'00'.repeat(32)}` as const;

/** How far back an operator whose database is empty looks for results of its own (blocks). */
export const DEFAULT_RECOVERY_BLOCKS = 14_400;

export interface OperatorDeps {
  client: TangleClient;
  engine: SandboxEngine;
  store: JobStore;
  /** The statement signer: a Substrate ECDSA pair, or (EVM backend) the account's private key. */
  signer: KeyringPair | { evmPrivateKey: `0x${string}` };
  /** The services this operator serves; calls of other services are ignored. */
  services: ReadonlySet<bigint>;
  log: Logger;
  /** With an empty database: how many blocks back to look for its own results. */
  recoveryBlocks?: number;
  /** Test-only crash points (`FAAS_TEST_CRASH_POINT`): end the process right there with SIGKILL. */
  crashPoint?: 'after-journal' | 'after-send';
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
  private readonly blueprintOf = new Map<bigint, bigint>();

  constructor(private readonly d: OperatorDeps) {}

  async start(): Promise<void> {
    const { client, store } = this.d;
    const last = store.lastBlock;
    const head = await client.head();
    // An empty database: what this account answered lately, and who made each call, are read
    // back from the chain's events.
    const { answered, callers } = last === null ? await client.history(Math.max(0, head - (this.d.recoveryBlocks ?? DEFAULT_RECOVERY_BLOCKS))) : { answered: new Set<string>(), callers: new Map<string, string>() };
    // Subscribe before scanning storage, so a call made in between is not missed.
    let caughtUp!: () => void;
    const ready = new Promise<void>((res) => (caughtUp = res));
    this.unsubscribe = await client.subscribeJobCalls((call) => this.onCall(call, answered), {
      fromBlock: last === null ? head : last + 1,
      onBlockScanned: (n) => {
        store.lastBlock = n;
        if (n >= head) caughtUp();
      },
    });
    if (last !== null && last >= head) caughtUp();
    for (const job of store.unfinished()) this.track(job); // what a crash left
    await ready; // calls with their callers from the events first, then what only storage has
    // Calls on-chain this store never saw (a lost or new database): answered unless this
    // account's own result is among its recent events, or — older than that window — the
    // call already has a result (storage keeps only the last, not whose).
    for (const call of await client.storedJobCalls([...this.d.services])) {
      if (store.get(call.serviceId, call.callId) || answered.has(callKey(call.serviceId, call.callId))) continue;
      if (await client.hasResult(call.serviceId, call.callId)) continue;
      this.onCall({ ...call, caller: callers.get(callKey(call.serviceId, call.callId)) ?? '' }, answered);
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Resolves when every job known so far has been submitted (or failed to). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight.values()]);
  }

  private onCall(call: JobCall, answered: ReadonlySet<string>): void {
    if (!this.d.services.has(call.serviceId)) {
      this.d.log.debug({ serviceId: String(call.serviceId), callId: String(call.callId) }, 'job call for a service we do not serve');
      return;
    }
    let args: string[];
    try {
      if (call.argsError) throw new Error(call.argsError);
      args = call.texts ?? call.args.map(argText);
    } catch (err) {
      args = [`\u0000invalid: ${(err as Error).message}`];
    }
    const done = answered.has(callKey(call.serviceId, call.callId));
    const fresh = this.d.store.insert({ serviceId: call.serviceId, callId: call.callId, job: call.job, caller: call.caller, args, argsHash: call.argsHash, blockNumber: call.blockNumber }, done ? 'submitted' : 'received');
    if (fresh && !done) this.track(this.d.store.get(call.serviceId, call.callId)!);
  }

  private track(job: StoredJob): void {
    const key = callKey(job.serviceId, job.callId);
    if (this.inFlight.has(key)) return;
    const p = this.process(job)
      .catch((err: Error) => this.d.log.error({ err: err.message, job: key }, 'job failed; it stays in the store for the next start'))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
  }

  private async blueprintOfService(serviceId: bigint): Promise<bigint> {
    let id = this.blueprintOf.get(serviceId);
    if (id === undefined) {
      const service = await this.d.client.service(serviceId);
      if (!service) throw new Error(`service ${serviceId} is not on-chain`);
      id = service.blueprintId;
      this.blueprintOf.set(serviceId, id);
    }
    return id;
  }

  private async process(job: StoredJob): Promise<void> {
    const { client, store } = this.d;
    let fields = job.result;
    if (!fields) {
      const { output, imageHash } = await this.execute(job);
      const hash = outputHash(output);
      const body = { blueprintId: await this.blueprintOfService(job.serviceId), serviceId: job.serviceId, callId: job.callId, job: job.job, argsHash: job.argsHash, imageHash, exitCode: output.exitCode, outputHash: hash };
      const signer = this.d.signer;
      if (client.evm) {
        if (!('evmPrivateKey' in signer)) throw new Error('the EVM backend signs with the account key (evmPrivateKey)');
        const signature = await signEvmStatement(signer.evmPrivateKey, { ...body, ...client.evm });
        fields = [encodeEvmResult({ ...output, outputHash: hash, imageHash, signature })];
      } else {
        if ('evmPrivateKey' in signer) throw new Error('the Substrate backend signs with an ECDSA key pair');
        const signature = signStatement(signer, { ...body, genesisHash: client.genesisHash });
        fields = encodeResult({ ...output, outputHash: hash, imageHash, signature });
      }
      store.setResult(job.serviceId, job.callId, fields, { hash, ...output });
    }
    if (!job.submission || !(await this.finishJournaled(job, job.submission))) {
      // Where to look for our own result after a crash: the last block the follower scanned is at
      // or before the one this transaction lands in (no head read on every submission).
      const fromBlock = store.lastBlock ?? (await client.head());
      try {
        await client.submitResult(job.serviceId, job.callId, fields, {
          onSigned: (hex) => {
            store.setSubmission(job.serviceId, job.callId, hex, fromBlock);
            if (this.d.crashPoint === 'after-journal') process.kill(process.pid, 'SIGKILL');
          },
        });
      } catch (err) {
        if (!(err instanceof CallClosedError)) throw err;
        // Enough of the service's operators answered first; the call takes no more results.
        store.markSubmitted(job.serviceId, job.callId);
        this.d.log.info({ serviceId: String(job.serviceId), callId: String(job.callId) }, 'call already completed by other operators; nothing to submit');
        return;
      }
      if (this.d.crashPoint === 'after-send') process.kill(process.pid, 'SIGKILL');
    }
    store.markSubmitted(job.serviceId, job.callId);
    this.d.log.info({ serviceId: String(job.serviceId), callId: String(job.callId) }, 'result submitted');
  }

  /**
   * A result transaction was signed before a crash: it is on-chain already (our own event),
   * or the very same bytes are sent again — a node that still holds them refuses the copy, one
   * that dropped them includes them now. False when a fresh transaction is needed (its nonce
   * went to another transaction and ours is not on-chain).
   */
  private async finishJournaled(job: StoredJob, submission: { signedHex: string; fromBlock: number }): Promise<boolean> {
    const mine = async () => (await this.d.client.ownResults(submission.fromBlock)).has(callKey(job.serviceId, job.callId));
    if (await mine()) return true;
    try {
      await this.d.client.resendResult(submission.signedHex);
      return true;
    } catch (err) {
      if (await mine()) return true;
      if (err instanceof ChainTxError && (err.alreadyImported || err.outdatedNonce)) {
        // Still in the node's pool, or its nonce is used — by it, in a block not final yet, or by
        // another transaction: wait for finality to tell before signing a second result.
        for (let i = 0; i < 120; i++) {
          await new Promise((r) => setTimeout(r, 500));
          if (await mine()) return true;
        }
      }
      this.d.log.warn({ job: callKey(job.serviceId, job.callId), err: (err as Error).message }, 'journaled result transaction not on-chain; signing a new one');
      return false;
    }
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
  private async execute(job: StoredJob): Promise<{ output: OutputToSign; imageHash: string }> {
    try {
      if (job.job !== JOB_EXECUTE) throw new BadJobArgs('job', `unknown job ${job.job}; this blueprint has job ${JOB_EXECUTE} (execute)`);
      if (job.args[0]?.startsWith('\u0000invalid: ')) throw new BadJobArgs('args', job.args[0].slice(10));
      const a = decodeExecuteArgs(job.args);
      // Every job runs as its on-chain caller. A stored call older than the events this
      // operator read back names none: it runs alone, in a container of its own that is removed
      // after it (never shared with another caller's).
      const owner = job.caller || `call-${job.serviceId}-${job.callId}`;
      const request = { code: a.code, language: a.language, mode: job.caller ? a.mode : 'ephemeral', resources: a.resources, envVars: a.envVars, stdin: a.stdin };
      const r = await this.executeWithRetry(request as ExecuteRequestInput, owner);
      return { output: { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }, imageHash: this.d.engine.imageHash(LanguageSchema.parse(a.language)) };
    } catch (err) {
      const code = err instanceof FaaSError ? err.code : err instanceof BadJobArgs ? 'VALIDATION_ERROR' : 'INTERNAL_ERROR';
      if (code === 'INTERNAL_ERROR') this.d.log.error({ err: (err as Error).message }, 'execution failed');
      return { output: { exitCode: 255, stdout: '', stderr: `error ${code}: ${(err as Error).message}\n` }, imageHash: NO_IMAGE };
    }
  }
}
