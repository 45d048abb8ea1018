// TangleFaaSClient: submit FaaS jobs on Tangle and get back results you can verify — the
// output hash must match the output, and the signature must check against the key the
// operator registered on-chain for the blueprint.
import { EventEmitter } from 'node:events';
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import { u8aToString } from '@polkadot/util';
import { JOB_EXECUTE, encodeExecuteArgs, fieldText } from '../../blueprint/index.js';
import type { FieldCodec } from '../../blueprint/index.js';
import { ChainTxError, TxSender, accountFromUri, connectApi, followChainEvents } from '../chain/index.js';
import { outputHash, verifyOutput } from '../operator/index.js';

export interface TangleFaaSClientConfig {
  rpcUrl: string;
  blueprintId: number | bigint;
  serviceId: number | bigint;
  /** The caller's account: a mnemonic or dev URI (e.g. //Alice), or a keyring pair. */
  account: string | KeyringPair;
}

export interface JobRequest {
  code: string;
  language: string;
  mode?: string;
  resources?: Record<string, unknown>;
  envVars?: Record<string, string>;
  stdin?: string;
}

export interface JobResult {
  jobId: bigint;
  exitCode: number;
  /** The whole output: fetched from the operator's API when the on-chain copy was cut. */
  stdout: string;
  stderr: string;
  /** False when the on-chain output was cut (the full output is then fetched from the operator). */
  complete: boolean;
  outputHash: string;
  signature: string;
  operator: string;
  /** True only if the hash matches the output and the signature checks against the operator's registered key. */
  verified: boolean;
  /** Why `verified` is false, when it is. */
  verificationError?: string;
}

export type JobStatus = 'submitted' | 'executing' | 'completed' | 'failed';

type Field = Codec & FieldCodec;

/** A result as the operator signed it: the whole output, its hash and the signature. */
export interface SignedOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputHash: string;
  signature: string;
}

/** True only if the output hashes to `outputHash` and the signature checks against the operator's registered 65-byte key. */
export function verifyJobResult(r: SignedOutput, registeredKey: string): { verified: boolean; error?: string } {
  const expected = outputHash({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
  if (expected !== r.outputHash) return { verified: false, error: `output hash mismatch: the output hashes to ${expected}` };
  if (!verifyOutput(r.outputHash as `0x${string}`, r.signature as `0x${string}`, registeredKey as `0x${string}`)) {
    return { verified: false, error: 'the signature does not check against the operator’s registered key' };
  }
  return { verified: true };
}

/** The full output behind `hash` from the operator's API (its registered address). */
export async function fetchFullOutput(apiUrl: string, hash: string, timeoutMs = 10_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/v1/outputs/${hash}`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as { exitCode: number; stdout: string; stderr: string; message?: string };
  if (!res.ok) throw new Error(`${res.status} ${body.message ?? ''}`.trim());
  return { exitCode: body.exitCode, stdout: body.stdout, stderr: body.stderr };
}

export class TangleFaaSClient extends EventEmitter {
  private api: ApiPromise | null = null;
  // Jobs submitted at once each take the next nonce, so they do not collide.
  private sender: TxSender | null = null;

  constructor(private readonly config: TangleFaaSClientConfig) {
    super();
  }

  async connect(): Promise<void> {
    this.api = await connectApi(this.config.rpcUrl);
    const a = this.config.account;
    this.sender = new TxSender(this.api, typeof a === 'string' ? accountFromUri(this.api, a) : a);
  }

  async disconnect(): Promise<void> {
    await this.api?.disconnect();
    this.api = null;
  }

  private chain(): ApiPromise {
    if (!this.api) throw new Error('call connect() first');
    return this.api;
  }

  /** Calls job 0 `execute`; resolves with the job id (the call id) once the call is included. */
  async submitJob(req: JobRequest): Promise<bigint> {
    const api = this.chain();
    const tx = api.tx.services!.call!(this.config.serviceId, JOB_EXECUTE, encodeExecuteArgs(req));
    const included = await this.sender!.send(tx, 'inBlock').catch((err: Error) => {
      throw new Error(`services.call failed: ${err instanceof ChainTxError ? err.reason : err.message}`);
    });
    const called = included.records.find((e) => e.section === 'services' && e.method === 'JobCalled');
    if (!called) throw new Error('services.call was included but emitted no JobCalled event');
    const jobId = BigInt(called.data[2]!.toString());
    this.emit('jobUpdate', { jobId, status: 'submitted' satisfies JobStatus });
    return jobId;
  }

  /**
   * Waits for the job's result and verifies it. Follows finalized blocks from the current head
   * and, once following, reads the result's storage once: a result that landed earlier is found
   * there, a later one in the events, and no past blocks need scanning.
   */
  async waitForResult(jobId: bigint, opts: { timeoutMs?: number } = {}): Promise<JobResult> {
    const api = this.chain();
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const serviceId = BigInt(this.config.serviceId);
    let stop: (() => void) | null = null;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const found = await new Promise<{ operator: string | null; fields: Field[] }>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no result for job ${jobId} within ${timeoutMs} ms`)), timeoutMs);
      followChainEvents(api, {}, (event) => {
        if (event.section !== 'services' || event.method !== 'JobResultSubmitted') return;
        const [operator, sid, callId, , result] = event.data;
        if (BigInt(sid!.toString()) !== serviceId || BigInt(callId!.toString()) !== jobId) return;
        resolve({ operator: operator!.toString(), fields: [...(result as unknown as Iterable<Field>)] });
      })
        .then(async (s) => {
          stop = s;
          if (done) return s(); // found before the subscription was even confirmed
          if ((await api.query.services!.jobResults!.size(serviceId, jobId)).toNumber() === 0) return;
          const stored = (await api.query.services!.jobResults!(serviceId, jobId)) as unknown as { unwrap(): { result: Iterable<Field> } };
          resolve({ operator: null, fields: [...stored.unwrap().result] });
        })
        .catch(reject);
      void this.watchExecuting(serviceId, jobId, () => done);
    }).finally(() => {
      done = true;
      clearTimeout(timer);
      stop?.();
    });
    const [exitCode, stdout, stderr, complete, hash, signature] = found.fields.map(fieldText);
    const fields = { exitCode: Number(exitCode), stdout: stdout!, stderr: stderr!, complete: complete === 'true', outputHash: hash!, signature: signature! };
    // From storage the submitter is not named: it is the service operator whose key verifies.
    const operators = found.operator ? [found.operator] : await this.serviceOperators(serviceId);
    let check: { verified: boolean; error?: string } = { verified: false, error: 'no operator of the service is registered for the blueprint' };
    let operator = found.operator ?? operators[0] ?? '';
    let full = fields;
    for (const candidate of operators) {
      const prefs = await this.preferences(candidate);
      if (!prefs) continue;
      let output = fields;
      if (!fields.complete) {
        // The chain holds a cut copy: fetch the whole output from the operator and check it against the signed hash.
        try {
          output = { ...fields, ...(await fetchFullOutput(prefs.rpcAddress, fields.outputHash)) };
        } catch (err) {
          check = { verified: false, error: `the on-chain output is cut and the full output could not be fetched from ${prefs.rpcAddress}: ${(err as Error).message}` };
          continue;
        }
      }
      check = verifyJobResult(output, prefs.key);
      operator = candidate;
      full = output;
      if (check.verified) break;
    }
    const out: JobResult = { jobId, ...full, operator, verified: check.verified, ...(check.error ? { verificationError: check.error } : {}) };
    this.emit('jobUpdate', { jobId, status: (out.exitCode === 0 ? 'completed' : 'failed') satisfies JobStatus, result: out });
    return out;
  }

  /** The operator's registered key and API address for this blueprint, or null. */
  private async preferences(operator: string): Promise<{ key: string; rpcAddress: string } | null> {
    const api = this.chain();
    if ((await api.query.services!.operators!.size(this.config.blueprintId, operator)).toNumber() === 0) return null;
    const p = ((await api.query.services!.operators!(this.config.blueprintId, operator)) as unknown as { unwrap(): { key: Codec; rpcAddress: Codec } }).unwrap();
    return { key: p.key.toHex(), rpcAddress: u8aToString(p.rpcAddress.toU8a(true)) };
  }

  /** The operators of a service (its security commitments). */
  private async serviceOperators(serviceId: bigint): Promise<string[]> {
    const api = this.chain();
    if ((await api.query.services!.instances!.size(serviceId)).toNumber() === 0) return [];
    const service = ((await api.query.services!.instances!(serviceId)) as unknown as { unwrap(): { operatorSecurityCommitments: Iterable<[Codec, Codec]> } }).unwrap();
    return [...service.operatorSecurityCommitments].map(([op]) => op.toString());
  }

  /** Emits 'executing' once an operator of the service reports the call received (its API's
   *  GET /v1/jobs/:serviceId/:callId); nothing on-chain says when execution starts. */
  private async watchExecuting(serviceId: bigint, jobId: bigint, finished: () => boolean): Promise<void> {
    try {
      const urls: string[] = [];
      for (const op of await this.serviceOperators(serviceId)) {
        const prefs = await this.preferences(op);
        if (prefs) urls.push(`${prefs.rpcAddress.replace(/\/+$/, '')}/v1/jobs/${serviceId}/${jobId}`);
      }
      while (!finished() && urls.length) {
        for (const url of urls) {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => null);
          if (res?.ok && !finished()) {
            this.emit('jobUpdate', { jobId, status: 'executing' satisfies JobStatus });
            return;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch {
      /* best effort: the result still arrives */
    }
  }
}
