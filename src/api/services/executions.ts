// Executions started through the API: each belongs to one key, runs through the engine, keeps
// a bounded replay of its events for late stream clients, and leaves a usage record when it
// ends. A stream client going away never stops the execution.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PriceTable, RateLimits, SandboxLimits } from '../../config.js';
import { NotFoundError, toFaaSError } from '../../errors.js';
import { validateRequest } from '../../sandbox/index.js';
import type { ExecuteOptions, ExecuteRequestInput, ExecuteResult, ExecutionControl, SandboxEngine } from '../../sandbox/index.js';
import type { ApiKey, UsageStore } from '../../store/index.js';
import type { ExecuteBody, ExecutionInfo, ExecutionResultBody, StreamEvent, StreamInput, WireBytes } from '../schemas.js';
import type { RateLimiter } from './rate-limiter.js';

/** Input a client may send one execution over its life (the agent buffers what waits). */
const STDIN_BUDGET = 16 << 20;
/** Replay kept per execution for clients that connect late. */
const REPLAY_BYTES = 1 << 20;
/** Finished executions stay queryable this long. */
const RETAIN_MS = 3600_000;

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

  constructor(
    readonly id: string,
    readonly keyId: string,
    readonly language: ExecutionInfo['language'],
    readonly mode: ExecutionInfo['mode'],
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
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
    for (const m of this.pendingInput.splice(0)) this.input(m);
  }

  /** A client's stdin / resize / kill; held until the program runs. */
  input(m: StreamInput): void {
    if (this.status === 'completed' || this.status === 'failed') return;
    const c = this.control;
    if (!c) {
      this.pendingInput.push(m);
      return;
    }
    if (m.type === 'stdin') {
      this.stdinBytes += Buffer.byteLength(m.data);
      if (this.stdinBytes > STDIN_BUDGET) {
        this.emit({ type: 'error', data: `[stdin over the ${STDIN_BUDGET >> 20} MiB an execution may be sent; input dropped]\n` });
        return;
      }
      c.sendInput(m.data);
    }
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
  /** `Idempotency-Key` (per API key) → execution: a resent request gets the same execution. */
  private readonly byIdempotencyKey = new Map<string, Execution>();

  constructor(private readonly d: ExecutionServiceDeps) {}

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
    const ex = this.run(key, limits, body, body.wait === false);
    if (idempotencyKey) {
      const k = `${key.id}:${idempotencyKey}`;
      this.byIdempotencyKey.set(k, ex);
      void ex.done.then(() => setTimeout(() => this.byIdempotencyKey.delete(k), RETAIN_MS).unref());
    }
    return ex;
  }

  private run(key: ApiKey, limits: RateLimits, body: ExecuteBody, watchable: boolean): Execution {
    const request: ExecuteRequestInput = {
      ...body,
      files: body.files && Object.fromEntries(Object.entries(body.files).map(([k, v]) => [k, bytesOf(v)])),
      stdin: body.stdin === undefined ? undefined : bytesOf(body.stdin),
    };
    delete (request as { wait?: boolean }).wait;
    delete (request as { interactive?: boolean }).interactive;
    const checked = validateRequest(request, this.d.limits); // 400 now, not after a 202
    const release = this.d.limiter.acquire(key.id, limits);
    const ex = new Execution(randomUUID(), key.id, checked.language, checked.mode);
    this.executions.set(ex.id, ex);
    this.sweep();
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
      });
    return ex;
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

  /** Forgets executions finished over RETAIN_MS ago; at most once a second (it walks them all). */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    const cutoff = now - RETAIN_MS;
    for (const [id, ex] of this.executions) if (ex.finishedAt && ex.finishedAt < cutoff) this.executions.delete(id);
  }
}
