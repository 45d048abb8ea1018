// The operator's end of an instance's relay (relay.py runs at the other end, inside the
// instance, as one `docker exec` with attached stdin/stdout). Each inbound TCP connection is a
// channel over it; `open(port)` gives a Duplex that behaves like a socket to 127.0.0.1:<port>
// inside the instance. Per-channel flow control keeps a slow reader from flooding memory.
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { SandboxError } from '../../errors.js';
import { AttachDemuxer } from '../container.js';

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
const CHUNK = 64 * 1024;

const RELAY_SOURCE = readFileSync(new URL('./relay.py', import.meta.url), 'utf8');

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
    this.connecting = false;
    this.emit('connect');
    this.emit('ready');
  }

  /** @internal */
  onData(b: Buffer): void {
    if (this.gone) return;
    this.mux.touch();
    this.toAck += b.length;
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

  /** @internal */
  onAck(n: number): void {
    this.inFlight -= n;
    if (this.inFlight < WINDOW && this.waitingWrite) {
      const w = this.waitingWrite;
      this.waitingWrite = null;
      w();
    }
  }

  /** @internal */
  onEof(): void {
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
    let buf: Buffer = Buffer.alloc(0);
    const demux = new AttachDemuxer(
      (b) => {
        buf = buf.length ? Buffer.concat([buf, b]) : b;
        while (buf.length >= 9) {
          const n = buf.readUInt32BE(5);
          if (buf.length < 9 + n) break;
          this.onFrame(buf.readUInt8(0), buf.readUInt32BE(1), buf.subarray(9, 9 + n));
          buf = buf.subarray(9 + n);
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
        c.onData(Buffer.from(payload)); // a copy: the frame buffer is re-used
        return;
      case EOF:
        c.onEof();
        return;
      case ACK:
        c.onAck(payload.readUInt32BE(0));
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
