// Executions started through the API: each belongs to one key, runs through the engine, keeps
// a bounded replay of its events for late stream clients, and leaves a usage record when it
// ends. A stream client going away never stops the execution.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PriceTable, Quotas, RateLimits, SandboxLimits } from '../../config.js';
import { NotFoundError, QuotaExceededError, RateLimitError, ValidationError, toFaaSError } from '@faas/sdk/errors';
import { validateRequest } from '../../sandbox/index.js';
import type { ExecuteOptions, ExecuteRequestInput, ExecuteResult, ExecutionControl, SandboxEngine } from '../../sandbox/index.js';
import type { ApiKey, UsageStore } from '../../store/index.js';
import type { ExecuteBody, ExecutionInfo, ExecutionResultBody, StreamEvent, StreamInput, WireBytes } from '@faas/sdk/wire';
import type { RateLimiter } from './rate-limiter.js';
import type { CreditGuard } from './credit.js';

/** Replay kept per execution for clients that connect late. */
const REPLAY_BYTES = 1 << 20;
/** What a record costs besides its replay and result (ids, dates, objects), for the per-key byte bound. */
const RECORD_OVERHEAD = 512;
/** Defaults of the per-key bounds (FAAS_KEY_MAX_EXECUTIONS …) when none are given. */
const DEFAULT_RECORD_QUOTAS: Pick<Quotas, 'executionRecords' | 'executionRecordBytes' | 'executionRetainMs' | 'stdinBytes'> = {
  executionRecords: 1000,
  executionRecordBytes: 64 << 20,
  executionRetainMs: 3600_000,
  stdinBytes: 16 << 20,
};

export type Listener = (e: StreamEvent) => void;

/** What an event counts against the replay bound: its text, or a small fixed size. */
const sizeOf = (e: StreamEvent): number => ('data' in e && e.data ? e.data.length : 64);

export class Execution {
  status: ExecutionInfo['status'] = 'queued';
  result: ExecutionResultBody | undefined;
  error: ExecutionInfo['error'];
  finishedAt = 0;
  readonly createdAt = new Date();
  readonly done: Promise<void>;
  private readonly replay: StreamEvent[] = [];
  private replayBytes = 0;
  private readonly listeners = new Set<Listener>();
  private control: ExecutionControl | null = null;
  private readonly pendingInput: StreamInput[] = [];
  private stdinBytes = 0;
  private resolveDone!: () => void;
  /** The `Idempotency-Key` it was started with (forgotten with the record). */
  idempotencyKey: string | undefined;

  constructor(
    readonly id: string,
    readonly keyId: string,
    readonly language: ExecutionInfo['language'],
    readonly mode: ExecutionInfo['mode'],
    /** stdin this execution may be sent over its life, held (before it runs) or passed on. */
    private readonly stdinBudget = DEFAULT_RECORD_QUOTAS.stdinBytes,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Memory the record holds: its replay and result, roughly. */
  bytes(): number {
    const r = this.result;
    return RECORD_OVERHEAD + this.replayBytes + (r ? r.stdout.length + r.stderr.length : 0);
  }

  get finished(): boolean {
    return this.status === 'completed' || this.status === 'failed';
  }

  info(): ExecutionInfo {
    return {
      executionId: this.id,
      status: this.status,
      language: this.language,
      mode: this.mode,
      createdAt: this.createdAt.toISOString(),
      ...(this.result ? { result: this.result } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  emit(e: StreamEvent): void {
    // Keep the newest events within the bound; the final one is always kept.
    this.replay.push(e);
    this.replayBytes += sizeOf(e);
    while (this.replayBytes > REPLAY_BYTES && this.replay.length > 1) {
      const old = this.replay.shift()!;
      this.replayBytes -= sizeOf(old);
    }
    for (const l of this.listeners) l(e);
  }

  /** Replays what happened so far, then follows; returns the unsubscribe function. */
  subscribe(l: Listener): () => void {
    for (const e of this.replay) l(e);
    if (this.status === 'completed' || this.status === 'failed') return () => undefined;
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  started(c: ExecutionControl): void {
    this.control = c;
    this.status = 'running';
    for (const m of this.pendingInput.splice(0)) this.pass(c, m);
  }

  /**
   * A client's stdin / resize / kill; held until the program runs. stdin over the execution's
   * budget (counted whether held or passed on) is refused whole: QUOTA_EXCEEDED, nothing of it queued.
   */
  input(m: StreamInput): void {
    if (this.status === 'completed' || this.status === 'failed') return;
    if (m.type === 'stdin') {
      const n = Buffer.byteLength(m.data);
      if (this.stdinBytes + n > this.stdinBudget) {
        throw new QuotaExceededError('stdinBytes', `an execution may be sent ${this.stdinBudget} bytes of stdin (FAAS_MAX_STDIN_BYTES); ${this.stdinBytes} were sent, ${n} more refused`);
      }
      this.stdinBytes += n;
    }
    const c = this.control;
    if (!c) {
      // Held in as few messages as it takes: stdin joined to stdin before it, one resize (the
      // latest), and a close or kill once — however many small messages a client sends first.
      const last = this.pendingInput.at(-1);
      if (m.type === 'stdin' && last?.type === 'stdin') last.data += m.data;
      else if (m.type === 'resize') {
        const i = this.pendingInput.findIndex((p) => p.type === 'resize');
        if (i >= 0) this.pendingInput.splice(i, 1);
        this.pendingInput.push(m);
      } else if ((m.type !== 'stdin_close' && m.type !== 'kill') || !this.pendingInput.some((p) => p.type === m.type)) this.pendingInput.push({ ...m });
      return;
    }
    if (m.type === 'stdin') c.sendInput(m.data);
    else this.pass(c, m);
  }

  /** Passes one message on to the running program (stdin already counted). */
  private pass(c: ExecutionControl, m: StreamInput): void {
    if (m.type === 'stdin') c.sendInput(m.data);
    else if (m.type === 'stdin_close') c.closeInput();
    else if (m.type === 'resize') c.resize(m.cols, m.rows);
    else c.kill();
  }

  finish(): void {
    this.finishedAt = Date.now();
    this.listeners.clear();
    this.resolveDone();
  }
}

export interface ExecutionServiceDeps {
  engine: SandboxEngine;
  usage: UsageStore;
  limiter: RateLimiter;
  limits: SandboxLimits;
  prices: PriceTable;
  log: Logger;
  /** The credit rule (absent: not enforced). */
  credit?: CreditGuard;
  /** Per-key bounds on records and stdin (absent: the defaults). */
  quotas?: Pick<Quotas, 'executionRecords' | 'executionRecordBytes' | 'executionRetainMs' | 'stdinBytes'>;
}

const bytesOf = (b: WireBytes): string | Uint8Array<ArrayBuffer> => (typeof b === 'string' ? b : new Uint8Array(Buffer.from(b.base64, 'base64')));

/** Why a program could not run, from the engine's result; absent when it ran (whatever its exit code). */
export function failureOf(r: ExecuteResult): ExecutionResultBody['failure'] {
  if (r.timedOut) return 'timeout';
  if (r.oomKilled) return 'oom';
  return r.compileError ? 'compile' : undefined;
}

export class ExecutionService {
  private readonly executions = new Map<string, Execution>();
  /** Each key's records, oldest first: the per-key count and byte bounds evict from the front. */
  private readonly byKey = new Map<string, Set<Execution>>();
  /** `Idempotency-Key` (per API key) → execution: a resent request gets the same execution. */
  private readonly byIdempotencyKey = new Map<string, Execution>();
  private readonly q: NonNullable<ExecutionServiceDeps['quotas']>;

  constructor(private readonly d: ExecutionServiceDeps) {
    this.q = d.quotas ?? DEFAULT_RECORD_QUOTAS;
  }

  /**
   * Validates and starts an execution for the key; throws before starting anything on bad
   * input or limits. `watchable`: it may be streamed (started with `wait: false`), so output
   * is forwarded as it happens; a waited-for execution skips that work — nobody can attach
   * to it before its result is out.
   */
  start(key: ApiKey, limits: RateLimits, body: ExecuteBody, idempotencyKey?: string): Execution {
    if (idempotencyKey) {
      const seen = this.byIdempotencyKey.get(`${key.id}:${idempotencyKey}`);
      if (seen) return seen; // the client resent a request whose answer it lost: not run twice
    }
    this.d.credit?.require(key);
    const ex = this.run(key, limits, body, body.wait === false);
    if (idempotencyKey) {
      const k = `${key.id}:${idempotencyKey}`;
      ex.idempotencyKey = k;
      this.byIdempotencyKey.set(k, ex);
    }
    return ex;
  }

  private run(key: ApiKey, limits: RateLimits, body: ExecuteBody, watchable: boolean): Execution {
    // A run in an existing context may leave out the language: the context's is used.
    const language = body.language ?? (body.executionId !== undefined ? this.d.engine.contextLanguage?.(key.id, body.executionId) : undefined);
    if (!language) {
      if (body.executionId !== undefined) throw new NotFoundError('execution context', body.executionId);
      throw new ValidationError('language', 'is required');
    }
    const request: ExecuteRequestInput = {
      ...body,
      language,
      files: body.files && Object.fromEntries(Object.entries(body.files).map(([k, v]) => [k, bytesOf(v)])),
      stdin: body.stdin === undefined ? undefined : bytesOf(body.stdin),
    };
    delete (request as { wait?: boolean }).wait;
    delete (request as { interactive?: boolean }).interactive;
    const checked = validateRequest(request, this.d.limits); // 400 now, not after a 202
    this.sweep();
    this.makeRoom(key.id);
    // The engine's per-owner quotas (warm containers, stateful contexts): refused now, nothing started.
    this.d.engine.admit?.(checked, key.id);
    const release = this.d.limiter.acquire(key.id, limits);
    const ex = new Execution(randomUUID(), key.id, checked.language, checked.mode, this.q.stdinBytes);
    this.executions.set(ex.id, ex);
    let mine = this.byKey.get(key.id);
    if (!mine) this.byKey.set(key.id, (mine = new Set()));
    mine.add(ex);
    const t0 = Date.now();
    const options: ExecuteOptions = watchable
      ? {
          owner: key.id,
          id: ex.id,
          interactive: body.interactive === true,
          onStart: (c) => ex.started(c),
          onOutput: (stream, chunk) => ex.emit(stream === 'stdout' ? { type: 'output', data: chunk.toString('utf8') } : { type: 'error', data: chunk.toString('utf8') }),
          onProgress: (p) => ex.emit({ type: 'progress', percent: p.percent, message: p.message }),
        }
      : { owner: key.id, id: ex.id };
    this.d.engine
      .execute(request, options)
      .then(
        (r) => {
          const failure = failureOf(r);
          ex.result = { ...r, executionId: ex.id, ...(failure ? { failure } : {}) };
          ex.status = 'completed';
          if (!watchable) {
            // Not forwarded as it happened: a stream opened later still replays the output.
            if (r.stdout) ex.emit({ type: 'output', data: r.stdout });
            if (r.stderr) ex.emit({ type: 'error', data: r.stderr });
          }
          ex.emit({ type: 'complete', exitCode: r.exitCode, result: ex.result });
          this.record(ex, t0, r);
        },
        (err: unknown) => {
          const e = toFaaSError(err);
          ex.error = { code: e.code, message: e.message };
          ex.status = 'failed';
          ex.emit({ type: 'error', error: ex.error });
        },
      )
      .finally(() => {
        release();
        ex.finish();
        this.trim(ex.keyId, ex);
      });
    return ex;
  }

  /**
   * Before a key's new execution: its oldest finished records go while it holds as many as it
   * may (FAAS_KEY_MAX_EXECUTIONS) or more bytes than it may (FAAS_KEY_MAX_EXECUTION_BYTES). When
   * every record is of a running execution, the new one must wait: 429, nothing started.
   */
  private makeRoom(keyId: string): void {
    this.trim(keyId, null, 1);
    const mine = this.byKey.get(keyId);
    if (mine && mine.size >= this.q.executionRecords) {
      throw new RateLimitError(new Date(Date.now() + 1000), `This key has ${mine.size} executions running or queued, as many records as it may hold (${this.q.executionRecords}); retry when one finishes.`);
    }
  }

  /** Evicts a key's oldest finished records (never `keep`) until it is within its bounds, with `room` more to come. */
  private trim(keyId: string, keep: Execution | null, room = 0): void {
    const mine = this.byKey.get(keyId);
    if (!mine) return;
    let bytes = 0;
    for (const ex of mine) bytes += ex.bytes();
    for (const ex of mine) {
      if (mine.size + room <= this.q.executionRecords && bytes <= this.q.executionRecordBytes) break;
      if (!ex.finished || ex === keep) continue;
      bytes -= ex.bytes();
      this.forget(ex);
    }
  }

  private forget(ex: Execution): void {
    this.executions.delete(ex.id);
    const mine = this.byKey.get(ex.keyId);
    mine?.delete(ex);
    if (mine?.size === 0) this.byKey.delete(ex.keyId);
    if (ex.idempotencyKey && this.byIdempotencyKey.get(ex.idempotencyKey) === ex) this.byIdempotencyKey.delete(ex.idempotencyKey);
  }

  /** The key's execution, or NOT_FOUND (also for another key's: ids do not leak across keys). */
  get(key: ApiKey, id: string): Execution {
    const ex = this.executions.get(id);
    if (!ex || ex.keyId !== key.id) throw new NotFoundError('execution', id);
    return ex;
  }

  private record(ex: Execution, startedAt: number, r: ExecuteResult): void {
    const p = this.d.prices;
    const cpuSeconds = r.usage.cpuSeconds;
    const memoryGbSeconds = (r.usage.memoryPeakMb / 1024) * (r.durationMs / 1000);
    const cost = p.perExecution + cpuSeconds * p.perCpuSecond + memoryGbSeconds * p.perGbSecond;
    try {
      this.d.usage.record({ executionId: ex.id, keyId: ex.keyId, language: ex.language, mode: ex.mode, startedAt, finishedAt: Date.now(), exitCode: r.exitCode, cpuSeconds, memoryGbSeconds, cost });
    } catch (err) {
      this.d.log.error({ err: (err as Error).message, executionId: ex.id }, 'usage record not written');
    }
  }

  /** Running executions of a key. */
  active(keyId: string): number {
    let n = 0;
    for (const ex of this.executions.values()) if (ex.keyId === keyId && (ex.status === 'queued' || ex.status === 'running')) n++;
    return n;
  }

  private lastSweep = 0;

  /** Forgets executions finished over FAAS_EXECUTION_RETAIN_MS ago; at most once a second (it walks them all). */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    const cutoff = now - this.q.executionRetainMs;
    for (const ex of this.executions.values()) if (ex.finishedAt && ex.finishedAt < cutoff) this.forget(ex);
  }
}
