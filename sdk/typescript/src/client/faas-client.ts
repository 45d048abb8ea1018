// FaaSClient: the operator's gateway from TypeScript. Every call carries the API key; errors
// arrive as the classes of the package's errors.ts (one code table with the server, ../errors.ts). Retries back off
// exponentially with jitter on network errors, 5xx and 429 (waiting for `resetAt`), but a
// call that may already have run is never sent twice.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request } from 'undici';
import WebSocket from 'ws';
import { AuthError, ExecutionError, FaaSError, TimeoutError, errorFromBody } from '../errors.js';
import type { ErrorBody } from '../errors.js';
import type { CurrentUsage, ExecuteBody, ExecutionInfo, ExecutionResultBody, StreamEvent, StreamInput, UsageMetrics } from '../wire/index.js';
import type { BranchInfoBody as BranchInfo, MergeInfoBody as MergeInfo, RestoreInfoBody as RestoreInfo, SnapshotInfoBody as SnapshotInfo } from '../wire/index.js';

export type { BranchInfo, MergeInfo, RestoreInfo, SnapshotInfo };
export type MergeStrategy = 'fail' | 'ours' | 'theirs';
import { InstancesApi } from './instances.js';

export interface FaaSClientConfig {
  /** Defaults to the FAAS_API_KEY environment variable. */
  apiKey?: string;
  /** Defaults to FAAS_ENDPOINT, then http://127.0.0.1:8080. */
  endpoint?: string;
  /** Per-request timeout, ms (default 60 000; an execute also gets its own timeoutMs on top). */
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
  query?: Record<string, string | undefined>;
}

/** A live stream of one execution: an EventEmitter ('output', 'stderr', 'progress', 'complete', 'failure', 'event', 'close') and an async iterable of events. */
export class ExecutionStream extends EventEmitter implements AsyncIterable<StreamEvent> {
  executionId = '';
  private ws: WebSocket | null = null;
  private readonly queue: StreamEvent[] = [];
  private waiting: ((r: IteratorResult<StreamEvent>) => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  private readonly opened: Promise<void>;

  /** `target`: the execution id and a socket to it, once known (a new execution is started first). */
  constructor(target: Promise<{ executionId: string; ws: WebSocket }>) {
    super();
    this.opened = target.then(
      ({ executionId, ws }) =>
        new Promise<void>((resolve, reject) => {
          this.executionId = executionId;
          this.ws = ws;
          ws.once('open', () => resolve());
          ws.once('unexpected-response', (_req, res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => {
              let body: Partial<ErrorBody> | null = null;
              try {
                body = JSON.parse(text) as ErrorBody;
              } catch {
                /* not JSON: the status alone */
              }
              reject(errorFromBody(body, res.statusCode ?? 500));
            });
          });
          ws.once('error', reject);
          ws.on('message', (raw) => this.receive(JSON.parse(raw.toString()) as StreamEvent));
          ws.on('close', () => this.end());
        }),
    );
    this.opened.catch((err: Error) => this.end(err));
  }

  private receive(e: StreamEvent): void {
    this.emit('event', e);
    if (e.type === 'error') this.emit(e.error ? 'failure' : 'stderr', e);
    else this.emit(e.type, e);
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: e, done: false });
    } else this.queue.push(e);
  }

  /** Resolves once connected; rejects with the server's error (e.g. NotFoundError for an unknown id). */
  ready(): Promise<void> {
    return this.opened;
  }

  private send(m: StreamInput): void {
    void this.opened.then(() => this.ws!.send(JSON.stringify(m)), () => undefined);
  }

  /** Writes to the program's stdin. */
  sendInput(text: string): void {
    this.send({ type: 'stdin', data: text });
  }

  /** Ends the program's stdin (EOF). */
  closeInput(): void {
    this.send({ type: 'stdin_close' });
  }

  /** Resizes the program's terminal (when it runs with `tty`). */
  resize(cols: number, rows: number): void {
    this.send({ type: 'resize', cols, rows });
  }

  kill(): void {
    this.send({ type: 'kill' });
  }

  /** Stops watching; the execution goes on. */
  close(): void {
    void this.opened.then(() => this.ws!.close(), () => undefined);
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (err) {
      this.failure = err;
      if (this.listenerCount('error')) this.emit('error', err);
    }
    this.emit('close');
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      if (err) this.queue.length = 0;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    return {
      next: async () => {
        await this.opened.catch(() => undefined);
        if (this.queue.length) return { value: this.queue.shift()!, done: false };
        if (this.failure) throw this.failure;
        if (this.ended) return { value: undefined, done: true };
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
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
    for (let attempt = 0; ; attempt++) {
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
          signal: AbortSignal.timeout(o.timeoutMs ?? this.timeout),
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        const e = err as Error & { code?: string; cause?: { code?: string } };
        const errCode = e.code ?? e.cause?.code;
        const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
        // Refused before anything was sent: safe to retry any call. Otherwise only idempotent ones.
        const refused = errCode === 'ECONNREFUSED';
        this.log(method, path, timedOut ? 'timeout' : (errCode ?? e.message), t0);
        if (attempt < this.maxRetries && (refused || o.idempotent)) {
          await this.backoff(attempt);
          continue;
        }
        if (timedOut) throw new TimeoutError(`${method} ${path}: no answer within ${o.timeoutMs ?? this.timeout} ms`);
        throw new FaaSError('INTERNAL_ERROR', `${method} ${path}: cannot reach ${this.endpoint} (${errCode ?? e.message})`);
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
      const retryable = RETRY_STATUS(status) && (o.idempotent || NOT_RUN_CODES.has(err.code));
      if (attempt < this.maxRetries && retryable) {
        const resetAt = (parsed as { resetAt?: string } | null)?.resetAt;
        await this.backoff(attempt, resetAt ? Date.parse(resetAt) - Date.now() : undefined);
        continue;
      }
      throw err;
    }
  }

  private async backoff(attempt: number, atLeastMs = 0): Promise<void> {
    const expo = Math.min(200 * 2 ** attempt, 10_000);
    const wait = Math.max(atLeastMs, expo / 2 + Math.random() * (expo / 2)); // jitter: half fixed, half random
    await new Promise((r) => setTimeout(r, wait));
  }

  private log(method: string, path: string, status: string, t0: number): void {
    if (this.debug) process.stderr.write(`[faas] ${method} ${path} → ${status} (${(performance.now() - t0).toFixed(1)} ms)\n`);
  }

  /**
   * Runs code and resolves with the result — also for a program that exits non-zero, unless
   * `throwOnError`. Rejects with ExecutionError when the program could not run (syntax or
   * compile error, time limit, out of memory), with its stderr and exit code.
   */
  async execute(params: ExecuteParams): Promise<ExecutionResult> {
    const timeoutMs = this.timeout + (params.resources?.timeoutMs ?? 30_000);
    // The idempotency key makes a resend safe even after a lost answer (a reset connection, a
    // restart of the gateway's listener): the server answers it with the same execution.
    const r = await this.call<ExecutionResult>('POST', '/v1/executions', toBody(params), { idempotent: true, idempotencyKey: randomUUID(), timeoutMs });
    if (r.failure) throw new ExecutionError(`The program could not run (${r.failure}): ${r.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500)}`, r.stderr, r.exitCode, r.failure);
    if (params.throwOnError && r.exitCode !== 0) throw new ExecutionError(`The program exited with ${r.exitCode}`, r.stderr, r.exitCode);
    return r;
  }

  /** Starts an execution without waiting; resolves with its id (then `stream` or `getExecution`). */
  async start(params: ExecuteParams): Promise<string> {
    const info = await this.call<ExecutionInfo>('POST', '/v1/executions', { ...toBody(params), wait: false }, { idempotent: true, idempotencyKey: randomUUID() });
    return info.executionId;
  }

  getExecution(executionId: string): Promise<ExecutionInfo> {
    return this.call('GET', `/v1/executions/${encodeURIComponent(executionId)}`, undefined, { idempotent: true });
  }

  /**
   * Streams an execution: give the id of one started with `start`, or the parameters of a new
   * one (started interactive, so `sendInput` reaches it). Started first, then watched: the
   * server's replay buffer means nothing printed in between is lost.
   */
  stream(target: string | ExecuteParams): ExecutionStream {
    const id = typeof target === 'string' ? Promise.resolve(target) : this.start({ ...target, interactive: target.interactive ?? true });
    return new ExecutionStream(
      id.then((executionId) => ({
        executionId,
        ws: new WebSocket(`${this.endpoint.replace(/^http/, 'ws')}/v1/executions/${encodeURIComponent(executionId)}/stream`, { headers: { authorization: `Bearer ${this.key()}` } }),
      })),
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
    /** Totals over a period (default: the last 30 days), with one row per UTC day. */
    getMetrics: (p: { startDate?: Date | string; endDate?: Date | string } = {}): Promise<UsageMetrics> =>
      this.call('GET', '/v1/usage/metrics', undefined, {
        idempotent: true,
        query: { startDate: p.startDate instanceof Date ? p.startDate.toISOString() : p.startDate, endDate: p.endDate instanceof Date ? p.endDate.toISOString() : p.endDate },
      }),
    /** Totals so far, credit and balance, rate limit left, executions running. */
    getCurrent: (): Promise<CurrentUsage> => this.call('GET', '/v1/usage/current', undefined, { idempotent: true }),
  };
}
