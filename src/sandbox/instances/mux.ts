// The operator's end of an instance's relay (relay.py runs at the other end, inside the
// instance, as one `docker exec` with attached stdin/stdout). Each inbound TCP connection is a
// channel over it; `open(port)` gives a Duplex that behaves like a socket to 127.0.0.1:<port>
// inside the instance. Per-channel flow control keeps a slow reader from flooding memory.
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { SandboxError } from '@faas/sdk/errors';
import { AttachDemuxer } from '../container.js';
import { ByteQueue } from '../protocol.js';

const OPEN = 1;
const DATA = 2;
const EOF = 3;
const CLOSE = 4;
const ACK = 5;
const OPENED = 6;
const PING = 7;
const PONG = 8;
/** Unacknowledged bytes allowed per channel and direction (as relay.py). */
const WINDOW = 1 << 20;
/** The most relay.py reads and sends at once (its CHUNK): it may send one while just under WINDOW. */
const RELAY_CHUNK = 1 << 16;
const CHUNK = 64 * 1024;
/**
 * Largest frame accepted from the relay. relay.py sends DATA of at most CHUNK bytes and small
 * control frames; the relay runs as the instance's user, whose code could write into its
 * stdout, so a frame over this ends the relay (its channels are cut), never the operator.
 */
export const MAX_RELAY_FRAME = 1 << 20;

// agent/relay.py: an in-sandbox program like the agent's, run in the instance by `docker exec` of its source.
const RELAY_SOURCE = readFileSync(new URL('../../../agent/relay.py', import.meta.url), 'utf8');

function frame(type: number, ch: number, payload?: Buffer): Buffer {
  const h = Buffer.allocUnsafe(9);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(ch, 1);
  h.writeUInt32BE(payload?.length ?? 0, 5);
  return payload && payload.length ? Buffer.concat([h, payload]) : h;
}

/** One relayed connection: a Duplex to a port inside the instance, socket-like enough for `http`. */
export class MuxChannel extends Duplex {
  /** Bytes sent and not yet acknowledged by the relay. */
  private inFlight = 0;
  private waitingWrite: (() => void) | null = null;
  /** Bytes pushed to our reader and not yet acknowledged to the relay. */
  private toAck = 0;
  private remoteEnded = false;
  private localEnded = false;
  private gone = false;
  connecting = true;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort: number;

  constructor(
    private readonly mux: Mux,
    readonly id: number,
    port: number,
  ) {
    super({ allowHalfOpen: true });
    this.remotePort = port;
  }

  /** @internal from the mux */
  onOpened(): void {
    if (!this.connecting) return; // said twice: nothing new
    this.connecting = false;
    this.emit('connect');
    this.emit('ready');
  }

  /** @internal */
  onData(b: Buffer): void {
    if (this.gone) return;
    if (this.remoteEnded) return void this.onClose('the instance relay sent data after EOF');
    this.mux.touch();
    this.toAck += b.length;
    // The relay may have at most WINDOW unacknowledged bytes out: one that ignores the window
    // (code in the instance writing frames itself) would otherwise grow this buffer unbounded.
    if (this.toAck > WINDOW + RELAY_CHUNK) return void this.onClose('the instance relay exceeded its flow-control window');
    if (this.push(b)) this.ack();
  }

  private ack(): void {
    if (this.toAck > 0 && !this.gone) {
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32BE(this.toAck);
      this.toAck = 0;
      this.mux.send(frame(ACK, this.id, p));
    }
  }

  /** @internal; false if `n` is more than is in flight (a broken or forged relay). */
  onAck(n: number): boolean {
    if (n > this.inFlight) return false;
    this.inFlight -= n;
    if (this.inFlight < WINDOW && this.waitingWrite) {
      const w = this.waitingWrite;
      this.waitingWrite = null;
      w();
    }
    return true;
  }

  /** @internal */
  onEof(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.push(null);
    this.maybeGone();
  }

  /** @internal: the relay closed it (refused, reset) or the mux went down. */
  onClose(why: string | null): void {
    if (this.gone) return;
    this.gone = true;
    this.mux.forget(this.id);
    if (why) {
      const err = Object.assign(new Error(why), { code: this.connecting ? 'ECONNREFUSED' : 'ECONNRESET' });
      this.destroy(err);
    } else {
      this.destroy();
    }
  }

  private maybeGone(): void {
    if (this.remoteEnded && this.localEnded && !this.gone) {
      this.gone = true;
      this.mux.forget(this.id);
    }
  }

  override _read(): void {
    this.ack();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.gone) return cb(new Error('channel closed'));
    this.mux.touch();
    for (let i = 0; i < chunk.length; i += CHUNK) {
      const part = chunk.subarray(i, i + CHUNK);
      this.inFlight += part.length;
      this.mux.send(frame(DATA, this.id, part));
    }
    if (this.inFlight < WINDOW) cb();
    else this.waitingWrite = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.gone) this.mux.send(frame(EOF, this.id));
    this.localEnded = true;
    this.maybeGone();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.gone) {
      this.gone = true;
      this.mux.send(frame(CLOSE, this.id));
      this.mux.forget(this.id);
    }
    const w = this.waitingWrite;
    this.waitingWrite = null;
    w?.();
    cb(err);
  }

  // What node's http client and servers call on a socket.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    clearTimeout(this.timer);
    if (ms > 0) {
      this.timer = setTimeout(() => this.emit('timeout'), ms);
      this.timer.unref();
    }
    return this;
  }
  private timer: NodeJS.Timeout | undefined;
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** The relay of one instance: a `docker exec` of relay.py and the channels over it. */
export class Mux {
  private readonly channels = new Map<number, MuxChannel>();
  private nextId = 1;
  private closed = false;
  private stderr = '';
  private readonly pings = new Map<number, () => void>();
  /** Last time anything passed (for idle detection). */
  lastActivity = Date.now();
  readonly done: Promise<void>;

  private constructor(
    private readonly stream: Duplex,
    private readonly log: Logger,
    private readonly onActivity: () => void,
  ) {
    let resolveDone!: () => void;
    this.done = new Promise((r) => (resolveDone = r));
    // Linear buffering (chunks kept, a frame concatenated once) and a cap on frame sizes.
    const queue = new ByteQueue();
    const demux = new AttachDemuxer(
      (b) => {
        if (this.closed) return;
        queue.push(b);
        while (queue.length >= 9) {
          const n = queue.u32(5);
          if (n > MAX_RELAY_FRAME) {
            queue.clear();
            this.log.warn({ bytes: n, max: MAX_RELAY_FRAME }, 'oversized frame from the instance relay; ending the relay');
            this.fail('the instance relay sent an oversized frame');
            return;
          }
          if (queue.length < 9 + n) break;
          const head = queue.take(9);
          const payload = queue.take(n);
          try {
            this.onFrame(head.readUInt8(0), head.readUInt32BE(1), payload);
          } catch (err) {
            // Nothing a frame carries may throw into this stream callback (and so the process).
            this.log.warn({ err }, 'a frame from the instance relay could not be handled');
          }
        }
      },
      (b) => {
        this.stderr = (this.stderr + b.toString()).slice(-2000);
      },
    );
    stream.on('data', (c: Buffer) => demux.push(c));
    const end = () => {
      if (this.closed) return;
      this.closed = true;
      if (this.stderr.trim()) this.log.warn({ relay: this.stderr.trim() }, 'instance relay ended');
      for (const c of [...this.channels.values()]) c.onClose('the instance relay went away');
      this.channels.clear();
      resolveDone();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    this.endNow = end;
  }

  private readonly endNow: () => void;

  /** Ends the relay from this side with a reason (its channels see it). */
  private fail(why: string): void {
    this.stderr = `${this.stderr}\n${why}`.slice(-2000);
    this.endNow();
    this.stream.destroy();
  }

  /** Starts relay.py in the container (as the sandbox user) and attaches to it. */
  static async start(container: Docker.Container, log: Logger, onActivity: () => void = () => undefined): Promise<Mux> {
    let exec: Docker.Exec;
    try {
      exec = await container.exec({
        Cmd: ['python3', '-I', '-u', '-c', RELAY_SOURCE],
        User: '65534:65534',
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
    } catch (err) {
      throw new SandboxError(`could not start the instance relay: ${(err as Error).message}`);
    }
    const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as Duplex;
    return new Mux(stream, log, onActivity);
  }

  /** @internal (tests): a mux over a relay stream already attached (Docker's multiplexed format). */
  static over(stream: Duplex, log: Logger): Mux {
    return new Mux(stream, log, () => undefined);
  }

  get alive(): boolean {
    return !this.closed;
  }

  get openChannels(): number {
    return this.channels.size;
  }

  /** @internal */
  touch(): void {
    this.lastActivity = Date.now();
    this.onActivity();
  }

  /** @internal */
  send(b: Buffer): void {
    if (!this.closed) this.stream.write(b);
  }

  /** @internal */
  forget(id: number): void {
    this.channels.delete(id);
  }

  /** A connection to 127.0.0.1:port inside the instance; 'connect' once the relay has it. */
  open(port: number): MuxChannel {
    const id = this.nextId++;
    const c = new MuxChannel(this, id, port);
    if (this.closed) {
      process.nextTick(() => c.onClose('the instance relay is not running'));
      return c;
    }
    this.channels.set(id, c);
    const p = Buffer.allocUnsafe(2);
    p.writeUInt16BE(port);
    this.send(frame(OPEN, id, p));
    this.touch();
    return c;
  }

  /** Round trip through the relay, ms. */
  async ping(timeoutMs = 5000): Promise<number> {
    const seq = this.nextId++;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(seq);
        reject(new SandboxError('the instance relay did not answer'));
      }, timeoutMs);
      this.pings.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
      this.send(frame(PING, seq));
    });
    return performance.now() - t0;
  }

  private onFrame(type: number, ch: number, payload: Buffer): void {
    if (type === PONG) {
      const p = this.pings.get(ch);
      this.pings.delete(ch);
      p?.();
      return;
    }
    const c = this.channels.get(ch);
    if (!c) return;
    switch (type) {
      case OPENED:
        c.onOpened();
        return;
      case DATA:
        c.onData(Buffer.from(payload)); // a copy: the chunk it may share is not ours to keep
        return;
      case EOF:
        c.onEof();
        return;
      case ACK:
        // A malformed ACK (not 4 bytes, or more than was sent) closes that channel: the window
        // could not be trusted any more.
        if (payload.length !== 4 || !c.onAck(payload.readUInt32BE(0))) c.onClose('the instance relay sent a malformed ACK');
        return;
      case CLOSE:
        c.onClose(payload.length ? payload.toString('utf8') : 'closed by the instance');
        return;
      default:
        return;
    }
  }

  /** Ends the relay (its process exits when its stdin closes); open channels are cut. */
  close(): void {
    if (this.closed) return;
    for (const c of [...this.channels.values()]) c.destroy();
    this.stream.end();
    this.stream.destroy();
  }
}
