// The host ↔ in-sandbox agent protocol, version PROTOCOL_VERSION. The agent side is
// src/sandbox/agent/agent.py; a test checks both sides name the same version.
//
// Transport: the container's stdin/stdout, attached once through the engine. Each message is
// a frame: 4-byte big-endian length, then that many bytes of UTF-8 JSON. Binary payloads
// (files, stdin, output) travel base64-encoded inside the JSON.
import { z } from 'zod';

// v2: pseudo-terminals (`exec.tty`, `resize`), progress reports (`progress`), `notifyStart`.
// v3: stateful contexts (the family agent, family.py): `exec.context`, `ctx` requests, `reply`.
export const PROTOCOL_VERSION = 3;

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
  | { op: 'files'; snapshot: string }
  | { op: 'load'; snapshot: string; tar: string; language?: string; diskMb?: number }
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

/** Splits a byte stream into frames. Feed it chunks; it yields each complete message. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** Called with each frame that is not a valid message (it is then dropped). */
  constructor(private readonly onInvalid: (raw: string, why: string) => void = () => undefined) {}

  push(chunk: Buffer): AgentMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: AgentMessage[] = [];
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + n) break;
      const raw = this.buf.subarray(4, 4 + n).toString('utf8');
      this.buf = this.buf.subarray(4 + n);
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
