// One sandbox container with its agent: created under the sandbox policy, attached once,
// then driven over the agent protocol. The attach stream stays open for the container's
// life, so an execution costs one frame each way instead of a `docker exec`.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { Duplex } from 'node:stream';
import type { AgentSocket } from './agent-socket.js';
import type { Socket } from 'node:net';
import { QuotaExceededError, SandboxError } from '@faas/sdk/errors';
import { findCpuCounter } from './cgroup.js';
import type { CpuCounter } from './cgroup.js';
import { ByteQueue, DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, PROTOCOL_VERSION } from './protocol.js';
import type { AgentMessage, AgentResult, ContextOp, ExecMessage, HostMessage } from './protocol.js';
import type { ExecuteOptions, ExecutionControl, ProgressEvent } from './types.js';

/** Parses Docker's multiplexed attach/exec stream (8-byte header: stream type, 3 zero bytes, u32 size). */
export class AttachDemuxer {
  // Linear: chunks are kept as they came and a payload is concatenated once (ByteQueue).
  private readonly queue = new ByteQueue();
  constructor(private readonly onStdout: (b: Buffer) => void, private readonly onStderr: (b: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.queue.push(chunk);
    while (this.queue.length >= 8) {
      const size = this.queue.u32(4);
      if (this.queue.length < 8 + size) return;
      const stream = this.queue.byteAt(0);
      this.queue.take(8);
      const payload = this.queue.take(size);
      if (stream === 2) this.onStderr(payload);
      else this.onStdout(payload);
    }
  }
}

/** What the host hears of a running execution besides its result. */
export interface ExecHandlers {
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** The program runs (needs `stream` or `notifyStart` in the exec message). */
  onStarted?: () => void;
  onProgress?: (progress: ProgressEvent) => void;
}

interface Pending extends ExecHandlers {
  resolve: (r: AgentResult) => void;
  reject: (e: Error) => void;
  /** The exec's output cap, enforced here too (the agent side is not trusted to). */
  maxOutputBytes: number;
  /** Bytes of streamed output passed on so far, per stream. */
  streamed: { stdout: number; stderr: number };
}

/** Longest progress message passed on (the agent cuts there too). */
export const MAX_PROGRESS_MESSAGE = 1000;

export class SandboxContainer {
  private decoder: FrameDecoder;
  private readonly maxFrameBytes: number;
  private invalidFrames = 0;
  /** Why the channel was ended by the host (an oversized frame), for the pending callers. */
  private fatal: SandboxError | null = null;
  private readonly pending = new Map<string, Pending>();
  private helloWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closed = false;
  private destroying: Promise<void> | null = null;
  private agentLog = '';
  private pingSeq = 0;
  private readonly pongWaiters = new Map<number, () => void>();
  private readonly replies = new Map<string, { resolve: (d: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private requestSeq = 0;
  /** Request ids of this attachment (another process attached to the same agent uses others). */
  private readonly requestTag = `r${Math.random().toString(36).slice(2, 8)}-`;
  /** When the container last finished an execution (for idle reaping). */
  lastUsed = Date.now();
  executions = 0;
  /** The container's cgroup CPU counter; null where it cannot be read (then rusage is used). */
  cpu: CpuCounter | null = null;
  /** Where frames go: the attach stream, or the agent's socket once connected (agent-socket.ts). */
  private channel: Duplex;

  private constructor(
    readonly container: Docker.Container,
    private readonly stream: Duplex,
    readonly language: string,
    private readonly log: Logger,
    maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {
    this.channel = stream;
    this.maxFrameBytes = maxFrameBytes;
    this.decoder = this.newDecoder();
    const demux = new AttachDemuxer(
      (b) => {
        if (this.channel === stream) this.onFrames(b);
      },
      (b) => {
        this.agentLog = (this.agentLog + b.toString()).slice(-4000);
        this.log.debug({ container: this.id, agent: b.toString().trim() }, 'agent log');
      },
    );
    stream.on('data', (c: Buffer) => demux.push(c));
    this.closeWith(stream);
  }

  /** Either channel ending (the attach stream: the container; the socket: the agent) ends this sandbox. */
  private closeWith(ch: Duplex): void {
    ch.on('end', () => this.onClose());
    ch.on('close', () => this.onClose());
    ch.on('error', () => this.onClose());
  }

  private newDecoder(): FrameDecoder {
    return new FrameDecoder(
      (raw, why) => {
        // Logged a few times per container: a hostile agent must not flood the operator's log.
        if (++this.invalidFrames <= 5) this.log.warn({ container: this.id, frame: raw.slice(0, 300), why: why.slice(0, 300) }, 'dropped an invalid frame from the agent');
        else if (this.invalidFrames === 6) this.log.warn({ container: this.id }, 'more invalid frames from the agent; dropping them without a word');
      },
      this.maxFrameBytes,
    );
  }

  get id(): string {
    return this.container.id.slice(0, 12);
  }

  get alive(): boolean {
    return !this.closed;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Attaches to a container that already runs (a family container after an operator restart)
   * and checks its agent answers. Frames it wrote while nobody listened are gone; nothing was
   * asked of it then, so nothing is missing.
   */
  static async adopt(docker: Docker, id: string, language: string, log: Logger, maxFrameBytes?: number): Promise<SandboxContainer> {
    const container = docker.getContainer(id);
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const sc = new SandboxContainer(container, stream, language, log, maxFrameBytes);
    try {
      await sc.ping(10_000);
    } catch (err) {
      stream.destroy();
      throw err;
    }
    sc.cpu = findCpuCounter(container.id);
    return sc;
  }

  /** Creates, attaches and starts a container, and waits for its agent to say hello. */
  static async start(
    docker: Docker,
    options: Docker.ContainerCreateOptions,
    language: string,
    log: Logger,
    maxFrameBytes?: number,
    socket?: AgentSocket,
  ): Promise<SandboxContainer> {
    let container: Docker.Container | undefined;
    let sc: SandboxContainer | undefined;
    try {
      container = await docker.createContainer(options);
      // Attach before start so nothing the agent writes is lost.
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as unknown as Duplex;
      const started = new SandboxContainer(container, stream, language, log, maxFrameBytes);
      sc = started;
      // The agent connects to its socket, if it has one, before it says hello (over it).
      socket?.connection.then((s) => started.useSocket(s), () => undefined);
      const hello = new Promise<void>((resolve, reject) => {
        started.helloWaiter = { resolve, reject };
      });
      await container.start();
      await withTimeout(hello, 30_000, () => new SandboxError(`agent in container ${started.id} did not start: ${started.agentLog}`));
      started.cpu = findCpuCounter(container.id);
      if (started.closed) started.cpu?.close(); // it went down meanwhile
      return started;
    } catch (err) {
      // Its channels too (a socket connected late, the attach stream), not only the container.
      if (sc) await sc.destroy();
      else await container?.remove({ force: true }).catch(() => undefined);
      throw err instanceof SandboxError ? err : new SandboxError(`could not start a sandbox: ${(err as Error).message}`);
    } finally {
      socket?.close(); // connected or not, it is not needed any more
    }
  }

  private send(msg: HostMessage): void {
    if (this.closed) throw new SandboxError(`sandbox ${this.id} is gone`);
    this.channel.write(encodeFrame(msg));
  }

  /** The agent connected to its socket: frames go both ways over it from now on (anything
   *  arriving over the attach stream's stdout after this is not a frame of ours). */
  private useSocket(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    sock.setNoDelay?.(true);
    this.channel = sock;
    this.decoder = this.newDecoder();
    sock.on('data', (c: Buffer) => this.onFrames(c));
    this.closeWith(sock);
    sock.resume();
  }

  private onFrames(chunk: Buffer): void {
    if (this.closed) return;
    for (const msg of this.decoder.push(chunk)) this.onMessage(msg);
    if (this.decoder.error && !this.fatal) {
      // A frame over the cap: nothing more from this agent can be trusted (or held). The
      // pending calls fail with the reason and the container goes.
      this.fatal = this.decoder.error;
      this.log.warn({ container: this.id, bytes: this.decoder.error.bytes, max: this.decoder.error.max }, 'oversized frame from the agent; removing the sandbox');
      void this.destroy();
    }
  }

  private onMessage(msg: AgentMessage): void {
    switch (msg.type) {
      case 'hello':
        if (msg.version !== PROTOCOL_VERSION) {
          this.helloWaiter?.reject(new SandboxError(`agent speaks protocol v${msg.version}, host v${PROTOCOL_VERSION}: rebuild the images`));
        } else {
          this.helloWaiter?.resolve();
        }
        this.helloWaiter = null;
        return;
      case 'result': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        this.lastUsed = Date.now();
        p?.resolve(p ? capResult(msg, p.maxOutputBytes) : msg);
        return;
      }
      case 'pong':
        if (msg.seq !== null) this.pongWaiters.get(msg.seq)?.();
        return;
      case 'reply': {
        const waiter = this.replies.get(msg.id);
        this.replies.delete(msg.id);
        if (!waiter) return;
        if (msg.ok) waiter.resolve(msg.data ?? {});
        // The one agent-side limit a user can reach (branches nested past the kernel's depth).
        else if (msg.code === 'QUOTA_EXCEEDED') waiter.reject(new QuotaExceededError('branchDepth', msg.message ?? 'too deep'));
        else waiter.reject(new SandboxError(`sandbox agent: ${msg.message ?? 'request failed'}`));
        return;
      }
      case 'output': {
        const p = this.pending.get(msg.id);
        if (!p?.onOutput) return;
        const left = p.maxOutputBytes - p.streamed[msg.stream];
        if (left <= 0) return; // over the cap: dropped here whatever the agent sends
        let data = Buffer.from(msg.data, 'base64');
        if (data.length > left) data = data.subarray(0, left);
        p.streamed[msg.stream] += data.length;
        this.callback(() => p.onOutput!(msg.stream, data));
        return;
      }
      case 'started': {
        const p = this.pending.get(msg.id);
        if (p?.onStarted) this.callback(p.onStarted);
        return;
      }
      case 'progress': {
        const p = this.pending.get(msg.id);
        if (!p?.onProgress || Number.isNaN(msg.percent)) return;
        const event = { percent: Math.min(100, Math.max(0, msg.percent)), message: msg.message.slice(0, MAX_PROGRESS_MESSAGE) };
        this.callback(() => p.onProgress!(event));
        return;
      }
      case 'error': {
        if (msg.id) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          p?.reject(new SandboxError(`sandbox agent: ${msg.message}`));
        } else {
          this.log.warn({ container: this.id, message: msg.message }, 'agent error');
        }
        return;
      }
      default:
        return;
    }
  }

  /** Runs a caller's callback; one that throws must not break the agent channel. */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err, container: this.id }, 'an execution callback threw');
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.cpu?.close();
    const err = this.fatal ?? new SandboxError(`sandbox ${this.id} stopped unexpectedly${this.agentLog ? `: ${this.agentLog.trim().slice(-500)}` : ''}`);
    this.helloWaiter?.reject(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const r of this.replies.values()) r.reject(err);
    this.replies.clear();
  }

  /**
   * Runs one program. Resolves with the agent's result; if the agent does not answer within
   * the program's timeout plus a grace period, the container is destroyed and the result
   * says timedOut (the agent kills on time itself; this is the backstop).
   */
  exec(msg: ExecMessage, handlers?: ExecHandlers, opts: { removeOnTimeout?: boolean } = {}): Promise<AgentResult> {
    this.executions++;
    const result = new Promise<AgentResult>((resolve, reject) => {
      const cap = { maxOutputBytes: msg.maxOutputBytes, streamed: { stdout: 0, stderr: 0 } };
      this.pending.set(msg.id, handlers ? { resolve, reject, ...cap, ...handlers } : { resolve, reject, ...cap });
    });
    result.catch(() => undefined); // the race below reports the failure; keep this one handled
    try {
      this.send(msg);
    } catch (err) {
      this.pending.delete(msg.id);
      return Promise.reject(err);
    }
    const graceMs = msg.timeoutMs + 5_000;
    const remove = opts.removeOnTimeout ?? true;
    return withTimeout(result, graceMs, () => {
      this.pending.delete(msg.id);
      // Remove it only after this timeout has settled the race, so the caller sees why.
      if (remove) setImmediate(() => void this.destroy());
      return new SandboxError(`sandbox ${this.id} did not answer within ${graceMs} ms${remove ? '; it was removed' : ''}`, { timedOut: true });
    });
  }

  /**
   * Steers a running execution: more stdin, end of stdin, a new terminal size, a kill. Does
   * nothing once the execution has ended or the sandbox is gone.
   */
  control(id: string, msg: { type: 'stdin'; data?: string; eof?: boolean } | { type: 'resize'; cols: number; rows: number } | { type: 'kill' }): void {
    if (this.closed || !this.pending.has(id)) return;
    this.send({ ...msg, id });
  }

  /** One operation of the family agent (contexts, snapshots); resolves with its reply's data. */
  request<T extends Record<string, unknown> = Record<string, unknown>>(op: ContextOp, timeoutMs = 60_000): Promise<T> {
    const id = `${this.requestTag}${++this.requestSeq}`;
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => this.replies.set(id, { resolve, reject }));
    try {
      this.send({ type: 'ctx', id, ...op });
    } catch (err) {
      this.replies.delete(id);
      return Promise.reject(err);
    }
    return withTimeout(reply, timeoutMs, () => new SandboxError(`sandbox ${this.id} did not answer '${op.op}' within ${timeoutMs} ms`)).finally(() =>
      this.replies.delete(id),
    ) as Promise<T>;
  }

  /** Round trip to the agent (health check); resolves with the time it took in ms. */
  async ping(timeoutMs = 5_000): Promise<number> {
    const seq = ++this.pingSeq;
    const t0 = performance.now();
    const pong = new Promise<void>((resolve) => this.pongWaiters.set(seq, resolve));
    this.send({ type: 'ping', seq });
    await withTimeout(pong, timeoutMs, () => new SandboxError(`sandbox ${this.id} did not answer a ping`)).finally(() =>
      this.pongWaiters.delete(seq),
    );
    return performance.now() - t0;
  }

  /** Whether the container was killed by the kernel's OOM killer (the whole sandbox, not one process). */
  async wasOomKilled(): Promise<boolean> {
    try {
      const info = await this.container.inspect();
      return Boolean(info.State?.OOMKilled);
    } catch {
      return false;
    }
  }

  /** Lets go of the container without stopping it (it keeps running for a later adopt). */
  detach(): void {
    this.onClose();
    this.stream.destroy();
    if (this.channel !== this.stream) this.channel.destroy();
  }

  /** Kills and removes the container. Idempotent; never throws. */
  destroy(): Promise<void> {
    if (!this.destroying) {
      this.destroying = (async () => {
        this.onClose();
        this.stream.destroy();
        if (this.channel !== this.stream) this.channel.destroy();
        await this.container.remove({ force: true, v: true }).catch((err: Error & { statusCode?: number }) => {
          if (err.statusCode !== 404 && err.statusCode !== 409) this.log.warn({ err, container: this.id }, 'remove failed');
        });
      })();
    }
    return this.destroying;
  }
}

/** The callbacks an execution asked for, wired to its container; undefined when none. */
export function execHandlers(c: SandboxContainer, id: string, options: ExecuteOptions): ExecHandlers | undefined {
  const { onOutput, onStart, onProgress } = options;
  if (!onOutput && !onStart && !onProgress) return undefined;
  let onStarted: (() => void) | undefined;
  if (onStart) {
    const control: ExecutionControl = {
      sendInput: (data) => {
        const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        if (b.length > 0) c.control(id, { type: 'stdin', data: b.toString('base64') });
      },
      closeInput: () => c.control(id, { type: 'stdin', eof: true }),
      resize: (cols, rows) => {
        const size = (n: number) => Math.min(1000, Math.max(1, Math.trunc(n)));
        if (Number.isFinite(cols) && Number.isFinite(rows)) c.control(id, { type: 'resize', cols: size(cols), rows: size(rows) });
      },
      kill: () => c.control(id, { type: 'kill' }),
    };
    let called = false;
    onStarted = () => {
      if (called) return;
      called = true;
      onStart(control);
    };
  }
  return { onOutput, onStarted, onProgress };
}

/**
 * The host's own output cap on a result: each stream at most `max` bytes (then `truncated`).
 * The agent cuts there too; this holds whatever an agent-side under the tenant's control sends.
 */
export function capResult(r: AgentResult, max: number): AgentResult {
  const over = (b64: string) => Buffer.byteLength(b64, 'base64') > max;
  if (!over(r.stdout) && !over(r.stderr)) return r;
  const cut = (b64: string) => (over(b64) ? Buffer.from(b64, 'base64').subarray(0, max).toString('base64') : b64);
  return { ...r, stdout: cut(r.stdout), stderr: cut(r.stderr), truncated: true };
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
