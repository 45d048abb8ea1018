// The host ↔ in-sandbox agent protocol, version PROTOCOL_VERSION. Its version and frame types
// are agent/protocol.json, which the agents (agent/agent.py, agent/family.py) read too.
//
// Transport: the container's stdin/stdout, attached once through the engine. Each message is
// a frame: 4-byte big-endian length, then that many bytes of UTF-8 JSON. Binary payloads
// (files, stdin, output) travel base64-encoded inside the JSON.
import { z } from 'zod';
import { SandboxError } from '@faas/sdk/errors';
import protocolSpec from '../../agent/protocol.json' with { type: 'json' };

// v2: pseudo-terminals (`exec.tty`, `resize`), progress reports (`progress`), `notifyStart`.
// v3: stateful contexts (the family agent, family.py): `exec.context`, `ctx` requests, `reply`.
export const PROTOCOL_VERSION: number = protocolSpec.version;
/** The `type`s of host → agent frames (HostMessage) and of agent → host frames (AgentMessageSchema). */
export const HOST_FRAME_TYPES: readonly string[] = protocolSpec.hostFrames;
export const AGENT_FRAME_TYPES: readonly string[] = protocolSpec.agentFrames;

// ---- host → agent -----------------------------------------------------------------------
export interface ExecMessage {
  type: 'exec';
  id: string;
  language: string;
  code: string;
  env: Record<string, string>;
  /** name → base64 content, written into the fresh working directory before the code runs. */
  files: Record<string, string>;
  /**
   * base64; written to the program's stdin, which is then closed unless `interactive` (then
   * `stdin` frames add more, and one with `eof` closes it). On a tty, closing sends Ctrl-D.
   */
  stdin: string;
  interactive?: boolean;
  timeoutMs: number;
  maxOutputBytes: number;
  /**
   * Send `output` frames as output is produced (besides the full copy in `result`); python's
   * stdout is then line-buffered, as on a terminal.
   */
  stream?: boolean;
  /** Send a `started` frame once the program runs (also sent when `stream`). */
  notifyStart?: boolean;
  /**
   * Run the program on a pseudo-terminal of this size (stdout and stderr merged into
   * `stdout`; TERM=xterm-256color); `resize` frames change the size.
   */
  tty?: { cols: number; rows: number };
  /**
   * Send `progress` frames for the program's progress reports (what it writes, one JSON line
   * `{"percent": n, "message": s}` each, to the private pipe named by FAAS_PROGRESS_FD).
   * Without it the reports are read and dropped.
   */
  progress?: boolean;
  /**
   * Family agent only: run in this stateful context (created first when `create`; its private
   * /tmp and home are `diskMb` each). The context keeps files and interpreter memory.
   */
  context?: { id: string; create?: boolean; diskMb?: number };
}

/** Family agent operations on contexts and snapshots; each is answered by one `reply`. */
export type ContextOp =
  | { op: 'snapshot'; context: string; snapshot: string; diskMb?: number }
  | { op: 'branch'; snapshot: string; context: string; language?: string; diskMb?: number }
  // With offset/limit: that slice of the tar (base64) and the tar's whole `size`.
  | { op: 'files'; snapshot: string; offset?: number; limit?: number }
  // A snapshot's tar goes in slices (`load_part`, in order from offset 0), then `load` with `parts`.
  | { op: 'load_part'; snapshot: string; offset: number; data: string }
  | { op: 'load'; snapshot: string; tar?: string; parts?: boolean; language?: string; diskMb?: number }
  | { op: 'merge'; base: string; contexts: string[]; snapshot: string; strategy: 'fail' | 'ours' | 'theirs' }
  | { op: 'drop_context'; context: string }
  | { op: 'drop_snapshot'; snapshot: string }
  | { op: 'list' }
  | { op: 'usage' };

export type HostMessage =
  | ExecMessage
  | ({ type: 'ctx'; id: string } & ContextOp)
  | { type: 'ping'; seq: number }
  | { type: 'stdin'; id: string; data?: string; eof?: boolean }
  | { type: 'kill'; id: string }
  | { type: 'resize'; id: string; cols: number; rows: number }
  | { type: 'shutdown' };

// ---- agent → host -----------------------------------------------------------------------
export const HelloSchema = z.object({
  type: z.literal('hello'),
  version: z.number(),
  language: z.string(),
  pid: z.number(),
});
export const ResultSchema = z.object({
  type: z.literal('result'),
  id: z.string(),
  exitCode: z.number(),
  signal: z.number().nullable(),
  timedOut: z.boolean(),
  oomKilled: z.boolean(),
  killed: z.boolean(),
  truncated: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  durationMs: z.number(),
  cpuSeconds: z.number(),
  memoryPeakMb: z.number(),
  /** The program failed to compile (syntax or build error): it never ran. */
  compileError: z.boolean().optional(),
});
export const AgentMessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  ResultSchema,
  z.object({ type: z.literal('started'), id: z.string(), pid: z.number() }),
  z.object({ type: z.literal('output'), id: z.string(), stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  // percent is clamped to 0..100 by the agent; the host clamps again (it trusts nothing inside).
  z.object({ type: z.literal('progress'), id: z.string(), percent: z.number(), message: z.string() }),
  z.object({ type: z.literal('pong'), seq: z.number().nullable() }),
  z.object({ type: z.literal('error'), id: z.string().nullable().optional(), message: z.string() }),
  z.object({
    type: z.literal('reply'),
    id: z.string(),
    ok: z.boolean(),
    data: z.record(z.string(), z.unknown()).optional(),
    code: z.string().optional(),
    message: z.string().optional(),
  }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type AgentResult = z.infer<typeof ResultSchema>;

export function encodeFrame(msg: HostMessage): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * Bytes received and not yet consumed, kept as the chunks they came in: appending is O(1) and
 * a frame is concatenated once, when it is whole (never the whole buffer again per chunk).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first chunk still (partly) unread, and the offset into it. */
  private first = 0;
  private offset = 0;
  /** Unread bytes. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The byte at `i` (of the unread ones), without consuming it. */
  byteAt(i: number): number {
    let k = this.first;
    let at = this.offset + i;
    while (at >= this.chunks[k]!.length) {
      at -= this.chunks[k]!.length;
      k++;
    }
    return this.chunks[k]![at]!;
  }

  /** Big-endian u32 at `i`, without consuming it (the caller checked length ≥ i + 4). */
  u32(i: number): number {
    return ((this.byteAt(i) << 24) | (this.byteAt(i + 1) << 16) | (this.byteAt(i + 2) << 8) | this.byteAt(i + 3)) >>> 0;
  }

  /** Consumes `n` bytes (n ≤ length) and returns them, copied once at most. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const head = this.chunks[this.first]!;
    let out: Buffer;
    if (head.length - this.offset >= n) {
      out = head.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.first]!;
        const m = Math.min(c.length - this.offset, n - filled);
        c.copy(out, filled, this.offset, this.offset + m);
        filled += m;
        this.offset += m;
        if (this.offset === c.length && filled < n) this.advance();
      }
    }
    if (this.offset === this.chunks[this.first]!.length) this.advance();
    this.length -= n;
    return out;
  }

  /** Drops everything (the stream is being abandoned). */
  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.length = 0;
  }

  private advance(): void {
    this.first++;
    this.offset = 0;
    // Compact now and then, so the consumed chunks are let go without shifting each time.
    if (this.first >= 1024 || this.first === this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

/** Bytes of a snapshot's tar per frame, each way (base64 makes a frame 4/3 of it). */
export const SNAPSHOT_CHUNK_BYTES = 4 << 20;

/** Largest frame accepted when the caller names none (see FAAS_MAX_FRAME_BYTES). */
export const DEFAULT_MAX_FRAME_BYTES = 16 << 20;

/** A frame announced a length over the cap: the stream cannot be trusted any further. */
export class FrameTooLargeError extends SandboxError {
  constructor(
    readonly bytes: number,
    readonly max: number,
  ) {
    super(`the sandbox sent a frame of ${bytes} bytes, over the host's cap of ${max} (FAAS_MAX_FRAME_BYTES); it was stopped`);
  }
}

/**
 * Splits a byte stream into frames. Feed it chunks; it yields each complete message. Linear in
 * the bytes fed. A frame whose length is over `maxFrameBytes` sets `error` (before its bytes
 * are buffered): the frames before it are still returned, nothing after it ever is. The caller
 * checks `error` after each push and ends the channel.
 */
export class FrameDecoder {
  private readonly queue = new ByteQueue();
  /** Set once a frame over the cap was announced; the stream is dead from there on. */
  error: FrameTooLargeError | null = null;
  /** Called with each frame that is not a valid message (it is then dropped). */
  constructor(
    private readonly onInvalid: (raw: string, why: string) => void = () => undefined,
    readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.queue.length;
  }

  push(chunk: Buffer): AgentMessage[] {
    if (this.error) return [];
    this.queue.push(chunk);
    const out: AgentMessage[] = [];
    while (this.queue.length >= 4) {
      const n = this.queue.u32(0);
      if (n > this.maxFrameBytes) {
        this.error = new FrameTooLargeError(n, this.maxFrameBytes);
        this.queue.clear();
        break;
      }
      if (this.queue.length < 4 + n) break;
      this.queue.take(4);
      const raw = this.queue.take(n).toString('utf8');
      // Trust nothing from inside the sandbox: a frame that does not parse is dropped.
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        this.onInvalid(raw, 'not JSON');
        continue;
      }
      const parsed = AgentMessageSchema.safeParse(json);
      if (parsed.success) out.push(parsed.data);
      else this.onInvalid(raw, parsed.error.message);
    }
    return out;
  }
}
