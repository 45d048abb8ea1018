// ExecutionStream: one execution watched over the gateway's WebSocket. The documented events
// carry plain values — 'output' a string, 'error' the stderr text or the failure, 'complete'
// the exit code — and the richer ones stay beside them ('stdout', 'stderr', 'failure',
// 'event' with the wire event, 'result'). Also an async iterable of the wire events, and
// `wait()` for the result.
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { ConnectionError, ExecutionError, FaaSError, errorFromBody } from '../errors.js';
import type { ErrorBody } from '../errors.js';
import type { ExecutionResultBody, StreamEvent, StreamInput } from '../wire/index.js';

/** The events of an ExecutionStream and what their listeners get. */
export interface ExecutionStreamEvents {
  /** A chunk of the program's stdout. */
  output: [data: string];
  /** The same chunk, by its stream's name. */
  stdout: [data: string];
  /** A chunk of the program's stderr. */
  stderr: [data: string];
  /**
   * Stderr text as it comes (a string), the reason the program could not run (a FaaSError:
   * compile error, time limit, out of memory), or a lost connection (a ConnectionError).
   * Emitted only while someone listens for 'error' (an unheard 'error' would throw).
   */
  error: [error: string | FaaSError];
  /** The program could not run (or the server failed it): the error, with its code. */
  failure: [error: FaaSError];
  /** A progress report of the program (`faas-progress 40 loading`). */
  progress: [progress: { percent: number; message: string }];
  /** The program ended: its exit code, and the whole result. */
  complete: [exitCode: number, result: ExecutionResultBody];
  /** Every wire event as it came. */
  event: [event: StreamEvent];
  /** The stream is over (completed, failed or closed). */
  close: [];
}

type Listener<K extends keyof ExecutionStreamEvents> = (...args: ExecutionStreamEvents[K]) => void;


/** The ExecutionError of a result whose program could not run (`failure` set). */
export function couldNotRun(r: ExecutionResultBody): ExecutionError {
  return new ExecutionError(`The program could not run (${r.failure}): ${r.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500)}`, r.stderr, r.exitCode, r.failure);
}

/** The error a failed execution's stream reports, as `execute` would throw it. */
function failureError(e: Extract<StreamEvent, { type: 'error' }>, stderr: string): FaaSError {
  const code = e.error?.code ?? 'INTERNAL_ERROR';
  if (code === 'EXECUTION_ERROR') return new ExecutionError(e.error?.message ?? 'The program could not run', stderr, -1);
  return errorFromBody({ code, message: e.error?.message ?? 'The execution failed' }, 500);
}

/** A live stream of one execution: an EventEmitter (see ExecutionStreamEvents) and an async iterable of the wire events. */
export class ExecutionStream extends EventEmitter implements AsyncIterable<StreamEvent> {
  executionId = '';
  private ws: WebSocket | null = null;
  private readonly queue: StreamEvent[] = [];
  private waiting: ((r: IteratorResult<StreamEvent>) => void) | null = null;
  private ended = false;
  /** The connection's failure (the iterator throws it). */
  private failure: Error | null = null;
  /** The server's word that the execution failed (no result will come). */
  private executionFailure: FaaSError | null = null;
  private result: ExecutionResultBody | null = null;
  private stderrSoFar = '';
  private readonly opened: Promise<void>;
  private readonly done: Promise<ExecutionResultBody>;

  /** `target`: the execution id and a socket to it, once known (a new execution is started first). */
  constructor(target: Promise<{ executionId: string; ws: WebSocket; url: string }>) {
    super();
    let settle!: { resolve: (r: ExecutionResultBody) => void; reject: (e: Error) => void };
    this.done = new Promise((resolve, reject) => (settle = { resolve, reject }));
    this.done.catch(() => undefined); // heard through wait() or 'error'; never an unhandled rejection
    this.once('close', () => {
      const r = this.result;
      if (r?.failure) settle.reject(couldNotRun(r));
      else if (r) settle.resolve(r);
      else settle.reject(this.executionFailure ?? this.failure ?? new ConnectionError('The stream closed before the execution completed', this.executionId));
    });
    this.opened = target.then(
      ({ executionId, ws, url }) =>
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
          ws.once('error', (err) => reject(new ConnectionError(`Could not open the stream at ${url}: ${err.message}`, url, err)));
          ws.on('message', (raw) => this.receive(JSON.parse(raw.toString()) as StreamEvent));
          ws.on('close', () => this.end());
        }),
    );
    this.opened.catch((err: Error) => this.end(err));
  }

  private receive(e: StreamEvent): void {
    this.emit('event', e);
    switch (e.type) {
      case 'output':
        this.emit('output', e.data);
        this.emit('stdout', e.data);
        break;
      case 'error':
        if (e.error) {
          const err = failureError(e, this.stderrSoFar);
          this.executionFailure = err;
          this.emit('failure', err);
          if (this.listenerCount('error')) this.emit('error', err);
        } else if (e.data !== undefined) {
          this.stderrSoFar += e.data;
          this.emit('stderr', e.data);
          if (this.listenerCount('error')) this.emit('error', e.data);
        }
        break;
      case 'progress':
        this.emit('progress', { percent: e.percent, message: e.message });
        break;
      case 'complete':
        this.result = e.result;
        this.emit('complete', e.exitCode, e.result);
        break;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: e, done: false });
    } else this.queue.push(e);
  }

  override on<K extends keyof ExecutionStreamEvents>(event: K, listener: Listener<K>): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof ExecutionStreamEvents>(event: K, listener: Listener<K>): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof ExecutionStreamEvents>(event: K, listener: Listener<K>): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** Resolves once connected; rejects with the server's error (e.g. NotFoundError for an unknown id). */
  ready(): Promise<void> {
    return this.opened;
  }

  /**
   * Resolves with the result once the program ends (whatever its exit code); rejects with the
   * reason it could not run (ExecutionError, as `execute` does), a server error, or a ConnectionError when the
   * stream is lost or closed first.
   */
  wait(): Promise<ExecutionResultBody> {
    return this.done;
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
      if (this.listenerCount('error')) this.emit('error', err instanceof FaaSError ? err : new ConnectionError(err.message, this.executionId, err));
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
