// FaaSClient: the operator's gateway from TypeScript. Every call carries the API key; errors
// arrive as the classes of the package's errors.ts (one code table with the server, ../errors.ts). Retries back off
// exponentially with jitter on network errors, 5xx and 429 (waiting for `resetAt`), but a
// call that may already have run is never sent twice.
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import WebSocket from 'ws';
import { AuthError, ConnectionError, ExecutionError, TimeoutError, errorFromBody } from '../errors.js';
import type { ErrorBody } from '../errors.js';
import { CurrentUsageViewSchema, UsageMetricsViewSchema } from '../wire/index.js';
import type { CurrentUsageView, ExecuteBody, ExecutionInfo, ExecutionResultBody, UsageMetricsView } from '../wire/index.js';
import type { BranchInfoBody as BranchInfo, MergeInfoBody as MergeInfo, RestoreInfoBody as RestoreInfo, SnapshotInfoBody as SnapshotInfo } from '../wire/index.js';

export type { BranchInfo, MergeInfo, RestoreInfo, SnapshotInfo };
export type MergeStrategy = 'fail' | 'ours' | 'theirs';
import { InstancesApi } from './instances.js';
import { ExecutionStream, couldNotRun } from './stream.js';

export { ExecutionStream };

export interface FaaSClientConfig {
  /** Defaults to the FAAS_API_KEY environment variable. */
  apiKey?: string;
  /** Defaults to FAAS_ENDPOINT, then http://127.0.0.1:8080. */
  endpoint?: string;
  /** The most a call may take, retries included, ms (default 60 000; an execute adds its run time limit, `resources.timeoutMs`). Per call: `{ timeoutMs }`. */
  timeout?: number;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** Logs each request (method, path, status, ms) to stderr. */
  debug?: boolean;
}

/** Bytes for files and stdin: text, or binary. */
export type Bytes = string | Uint8Array;

export interface ExecuteParams extends Omit<ExecuteBody, 'files' | 'stdin' | 'wait'> {
  files?: Record<string, Bytes>;
  stdin?: Bytes;
  /** Reject with ExecutionError when the program exits non-zero (default: resolve with the result). */
  throwOnError?: boolean;
}

export type ExecutionResult = ExecutionResultBody;

/** Per call: how long to wait for the answer, and a signal to give up on it. */
export interface RequestOptions {
  /** Give up after this many ms (default: the client's `timeout`; an execute adds its run time limit). A TimeoutError. */
  timeoutMs?: number;
  /** Aborting rejects the call with the signal's reason (an AbortError by default); a streamed execute is killed. */
  signal?: AbortSignal;
}

/** `execute`'s options: per-call limits, and output as it is produced. */
export interface ExecuteOptions extends RequestOptions {
  /** Receives stdout as it is printed (the execution is then streamed; it resolves the same). */
  onStdout?: (data: string) => void;
  /** Receives stderr as it is printed. */
  onStderr?: (data: string) => void;
}

const wireBytes = (b: Bytes) => (typeof b === 'string' ? b : { base64: Buffer.from(b).toString('base64') });

function toBody(p: ExecuteParams): ExecuteBody {
  const { throwOnError: _ignored, files, stdin, ...rest } = p;
  return {
    ...rest,
    ...(files ? { files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, wireBytes(v)])) } : {}),
    ...(stdin !== undefined ? { stdin: wireBytes(stdin) } : {}),
  };
}

/** Statuses worth another try of an idempotent call (not 501: it will not change). */
const RETRY_STATUS = (s: number) => s === 429 || (s >= 500 && s !== 501);
/** Answers that prove a POST did not run: refused before it started. */
const NOT_RUN_CODES = new Set(['RATE_LIMIT_EXCEEDED', 'QUEUE_FULL', 'SHUTTING_DOWN']);

interface CallOptions {
  /** Whether sending it twice is harmless (GET, or a POST carrying an idempotency key). */
  idempotent: boolean;
  /** Sent as `Idempotency-Key`: the server answers a resent request with the same execution. */
  idempotencyKey?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  query?: Record<string, string | undefined>;
}

export class FaaSClient {
  readonly endpoint: string;
  private readonly apiKey: string | undefined;
  private readonly timeout: number;
  private readonly maxRetries: number;
  private readonly debug: boolean;

  constructor(config: FaaSClientConfig = {}) {
    this.apiKey = config.apiKey ?? process.env.FAAS_API_KEY;
    this.endpoint = (config.endpoint ?? process.env.FAAS_ENDPOINT ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.timeout = config.timeout ?? 60_000;
    this.maxRetries = config.maxRetries ?? 3;
    this.debug = config.debug ?? false;
  }

  private key(): string {
    if (!this.apiKey) throw new AuthError('No API key: pass { apiKey } or set FAAS_API_KEY (npm run operator -- keys create).');
    return this.apiKey;
  }

  /** One call with retries; returns the parsed JSON body. */
  private async call<T>(method: string, path: string, body: unknown, o: CallOptions): Promise<T> {
    const key = this.key();
    const url = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    // The timeout bounds the whole call, retries included: a retry after a timeout would only
    // wait for the same answer again.
    const timeoutMs = o.timeoutMs ?? this.timeout;
    const deadline = Date.now() + timeoutMs;
    const timedOutError = () => new TimeoutError(`${method} ${path}: no answer within ${timeoutMs} ms`);
    for (let attempt = 0; ; attempt++) {
      o.signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) throw timedOutError();
      const t0 = performance.now();
      let status: number;
      let text: string;
      try {
        // undici's request rather than fetch: the same client Node's fetch is built on, without
        // the WHATWG layers (about half a millisecond a call on the warm path).
        const res = await request(url, {
          method: method as 'GET',
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(left)]) : AbortSignal.timeout(left),
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        const e = err as Error & { code?: string; cause?: { code?: string } };
        const errCode = e.code ?? e.cause?.code;
        const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
        // Refused before anything was sent: safe to retry any call. Otherwise only idempotent ones.
        const refused = errCode === 'ECONNREFUSED';
        this.log(method, path, timedOut ? 'timeout' : (errCode ?? e.message), t0);
        if (timedOut && Date.now() >= deadline - 5) throw timedOutError();
        if (attempt < this.maxRetries && (refused || o.idempotent)) {
          await this.backoff(attempt, 0, o.signal);
          continue;
        }
        if (timedOut) throw timedOutError();
        throw new ConnectionError(`${method} ${path}: cannot reach ${this.endpoint} (${errCode ?? e.message})`, this.endpoint, err);
      }
      this.log(method, path, String(status), t0);
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      if (status >= 200 && status < 300) return parsed as T;
      const err = errorFromBody(parsed as Partial<ErrorBody> | null, status);
      // "Not started" only on the server's own word: a code inferred from a bare status (a
      // proxy's 503 may come after it forwarded the request) does not make a POST safe to resend.
      const serverSaidNotRun = NOT_RUN_CODES.has(err.code) && (parsed as Partial<ErrorBody> | null)?.code === err.code;
      const retryable = RETRY_STATUS(status) && (o.idempotent || serverSaidNotRun);
      if (attempt < this.maxRetries && retryable) {
        const resetAt = (parsed as { resetAt?: string } | null)?.resetAt;
        if (resetAt && Date.parse(resetAt) > deadline) throw err; // no time left to wait for it
        await this.backoff(attempt, resetAt ? Date.parse(resetAt) - Date.now() : undefined, o.signal);
        continue;
      }
      throw err;
    }
  }

  private async backoff(attempt: number, atLeastMs = 0, signal?: AbortSignal): Promise<void> {
    const expo = Math.min(200 * 2 ** attempt, 10_000);
    const wait = Math.max(atLeastMs, expo / 2 + Math.random() * (expo / 2)); // jitter: half fixed, half random
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', stop);
        resolve();
      }, wait);
      const stop = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', stop, { once: true });
    });
  }

  private log(method: string, path: string, status: string, t0: number): void {
    if (this.debug) process.stderr.write(`[faas] ${method} ${path} → ${status} (${(performance.now() - t0).toFixed(1)} ms)\n`);
  }

  /**
   * Runs code and resolves with the result — also for a program that exits non-zero, unless
   * `throwOnError`. Rejects with ExecutionError when the program could not run (syntax or
   * compile error, time limit, out of memory), with its stderr and exit code.
   */
  async execute(params: ExecuteParams, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    const timeoutMs = options.timeoutMs ?? this.timeout + (params.resources?.timeoutMs ?? 30_000);
    const r = options.onStdout || options.onStderr ? await this.executeStreamed(params, { ...options, timeoutMs }) : await this.executeOnce(params, { ...options, timeoutMs });
    if (r.failure) throw couldNotRun(r);
    if (params.throwOnError && r.exitCode !== 0) throw new ExecutionError(`The program exited with ${r.exitCode}`, r.stderr, r.exitCode);
    return r;
  }

  private executeOnce(params: ExecuteParams, o: RequestOptions & { timeoutMs: number }): Promise<ExecutionResult> {
    // The idempotency key makes a resend safe even after a lost answer (a reset connection, a
    // restart of the gateway's listener): the server answers it with the same execution.
    return this.call<ExecutionResult>('POST', '/v1/executions', toBody(params), { idempotent: true, idempotencyKey: randomUUID(), timeoutMs: o.timeoutMs, signal: o.signal });
  }

  /** Started, then watched: output reaches the callbacks as it is printed. */
  private async executeStreamed(params: ExecuteParams, o: ExecuteOptions & { timeoutMs: number }): Promise<ExecutionResult> {
    const s = this.stream({ ...params, interactive: false }, o);
    if (o.onStdout) s.on('stdout', o.onStdout);
    if (o.onStderr) s.on('stderr', o.onStderr);
    let timer: NodeJS.Timeout | undefined;
    const abort = () => {
      s.kill();
      s.close();
    };
    o.signal?.throwIfAborted();
    o.signal?.addEventListener('abort', abort, { once: true });
    try {
      return await Promise.race([
        s.wait(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            abort();
            reject(new TimeoutError(`execute: no result within ${o.timeoutMs} ms`));
          }, o.timeoutMs);
          o.signal?.addEventListener('abort', () => reject(o.signal!.reason), { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', abort);
    }
  }

  /** Starts an execution without waiting; resolves with its id (then `stream` or `getExecution`). */
  async start(params: ExecuteParams, options: RequestOptions = {}): Promise<string> {
    const info = await this.call<ExecutionInfo>('POST', '/v1/executions', { ...toBody(params), wait: false }, { idempotent: true, idempotencyKey: randomUUID(), ...options });
    return info.executionId;
  }

  getExecution(executionId: string, options: RequestOptions = {}): Promise<ExecutionInfo> {
    return this.call('GET', `/v1/executions/${encodeURIComponent(executionId)}`, undefined, { idempotent: true, ...options });
  }

  /**
   * Streams an execution: give the id of one started with `start`, or the parameters of a new
   * one (started interactive, so `sendInput` reaches it). Started first, then watched: the
   * server's replay buffer means nothing printed in between is lost.
   */
  stream(target: string | ExecuteParams, options: RequestOptions = {}): ExecutionStream {
    const id = typeof target === 'string' ? Promise.resolve(target) : this.start({ ...target, interactive: target.interactive ?? true }, options);
    return new ExecutionStream(
      id.then((executionId) => {
        const url = `${this.endpoint.replace(/^http/, 'ws')}/v1/executions/${encodeURIComponent(executionId)}/stream`;
        if (this.debug) process.stderr.write(`[faas] stream ${url}\n`);
        return { executionId, url, ws: new WebSocket(url, { headers: { authorization: `Bearer ${this.key()}` } }) };
      }),
    );
  }

  /**
   * Snapshots a stateful context (the `executionId` of an execution in mode checkpointed,
   * branched or persistent, or of any later run in it): its files and, for python, its
   * interpreter memory. Equal file trees have equal `contentHash` and are stored once.
   */
  createSnapshot(executionId: string): Promise<SnapshotInfo> {
    return this.call('POST', '/v1/snapshots', { executionId }, { idempotent: false });
  }

  getSnapshot(snapshotId: string): Promise<SnapshotInfo> {
    return this.call('GET', `/v1/snapshots/${encodeURIComponent(snapshotId)}`, undefined, { idempotent: true });
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    return (await this.call<{ snapshots: SnapshotInfo[] }>('GET', '/v1/snapshots', undefined, { idempotent: true })).snapshots;
  }

  /** Deletes a snapshot (its stored files go when no other snapshot shares them). */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.call('DELETE', `/v1/snapshots/${encodeURIComponent(snapshotId)}`, undefined, { idempotent: true });
  }

  /** A new context with the snapshot's files and memory: run code in it with `executionId`. */
  restoreSnapshot(snapshotId: string): Promise<RestoreInfo> {
    return this.call('POST', `/v1/snapshots/${encodeURIComponent(snapshotId)}/restore`, {}, { idempotent: false });
  }

  /** A new, independent context from a snapshot; branches of one snapshot can be merged. */
  createBranch(snapshotId: string): Promise<BranchInfo> {
    return this.call('POST', '/v1/branches', { snapshotId }, { idempotent: false });
  }

  /**
   * Merges branches of one snapshot into a new snapshot: every branch's file changes against
   * that snapshot (memory comes from the snapshot: `memoryFrom: 'base'`). Paths changed
   * differently by two branches are a MergeConflictError (listing them) unless `strategy` is
   * 'ours' (the earlier branch in the list wins) or 'theirs' (the later one).
   */
  mergeBranches(branchIds: string[], options: { strategy?: MergeStrategy } = {}): Promise<MergeInfo> {
    return this.call('POST', '/v1/branches/merge', { branchIds, ...(options.strategy ? { strategy: options.strategy } : {}) }, { idempotent: false });
  }

  /** Persistent instances: start, SSH, exposed URLs, port forwards, files, pause/resume (sdk/typescript/src/client/instances.ts). */
  readonly instances = new InstancesApi({
    call: (method, path, body, o) => this.call(method, path, body, o),
    endpoint: () => this.endpoint,
    apiKey: () => this.key(),
    timeout: () => this.timeout,
  });

  readonly usage = {
    /** Totals over a period (default: the last 30 days), with one row per UTC day: `executions.totalCount`, `executions.cpuSeconds`, `costs.totalCost`, … */
    getMetrics: async (p: { startDate?: Date | string; endDate?: Date | string } = {}, options: RequestOptions = {}): Promise<UsageMetricsView> =>
      UsageMetricsViewSchema.parse(
        await this.call('GET', '/v1/usage/metrics', undefined, {
          idempotent: true,
          ...options,
          query: { startDate: p.startDate instanceof Date ? p.startDate.toISOString() : p.startDate, endDate: p.endDate instanceof Date ? p.endDate.toISOString() : p.endDate },
        }),
      ),
    /** Totals so far, `currentBalance`, `rateLimitRemaining`, `activeExecutions`, and the rate limit and prices in full. */
    getCurrent: async (options: RequestOptions = {}): Promise<CurrentUsageView> => CurrentUsageViewSchema.parse(await this.call('GET', '/v1/usage/current', undefined, { idempotent: true, ...options })),
  };
}
