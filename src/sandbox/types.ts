// Request and result types of the sandbox engine. The zod schemas are the one source of
// these types (z.infer), shared by the engine, the operator, the API server and the SDK.
import { z } from 'zod';

export const LANGUAGES = ['python', 'javascript', 'typescript', 'bash', 'go'] as const;
export const LanguageSchema = z.enum(LANGUAGES);
export type Language = z.infer<typeof LanguageSchema>;

export const MODES = ['ephemeral', 'cached', 'checkpointed', 'branched', 'persistent'] as const;
export const ModeSchema = z.enum(MODES);
export type Mode = z.infer<typeof ModeSchema>;

/** Isolation tiers: runc (namespaces + seccomp, the default) or gVisor (runsc, a user-space kernel). */
export const ISOLATIONS = ['runc', 'gvisor'] as const;
export const IsolationSchema = z.enum(ISOLATIONS);
export type Isolation = z.infer<typeof IsolationSchema>;

export const MAX_CODE_BYTES = 1 << 20;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A relative path inside the working directory: no absolute paths, no `..`, no NUL. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 255 * 4) return 'is too long';
  if (name.includes('\0')) return 'must not contain NUL';
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return 'must be a relative path, not absolute';
  const parts = name.split(/[\\/]/);
  if (parts.some((p) => p === '..')) return "must not contain '..' (path traversal)";
  if (parts.every((p) => p === '' || p === '.')) return 'must name a file';
  return null;
}

const bytes = z.union([z.string(), z.instanceof(Uint8Array)]);

export const ResourcesSchema = z
  .object({
    cpuCores: z.number().positive().max(1024).default(1),
    memoryMb: z.number().int().min(16).max(1 << 20).default(256),
    timeoutMs: z.number().int().min(1).max(24 * 3600 * 1000).default(30_000),
    diskMb: z.number().int().min(1).max(1 << 20).default(256),
    gpuCount: z.number().int().min(0).max(64).default(0),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;
export type ResourcesInput = z.input<typeof ResourcesSchema>;

export const ExecuteRequestSchema = z
  .object({
    code: z
      .string()
      .refine((c) => c.trim().length > 0, 'must not be empty')
      .refine((c) => Buffer.byteLength(c) <= MAX_CODE_BYTES, `must be at most ${MAX_CODE_BYTES} bytes (1 MiB)`),
    language: LanguageSchema,
    mode: ModeSchema.default('ephemeral'),
    /** Runs in an existing stateful context (checkpointed / branched / persistent modes). */
    executionId: z.string().min(1).max(128).optional(),
    resources: ResourcesSchema.default(ResourcesSchema.parse({})),
    /** The isolation tier (default: the operator's FAAS_ISOLATION); only tiers the operator allows. */
    isolation: IsolationSchema.optional(),
    envVars: z
      .record(
        z.string().regex(ENV_NAME, 'environment variable names are letters, digits and _, not starting with a digit'),
        z.string().refine((v) => !v.includes('\0'), 'must not contain NUL'),
      )
      .default({}),
    files: z
      .record(
        z.string().superRefine((name, ctx) => {
          const problem = fileNameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: `file name ${JSON.stringify(name)} ${problem}` });
        }),
        bytes,
      )
      .default({}),
    stdin: bytes.optional(),
    /**
     * Run the program on a pseudo-terminal of this size: stdout and stderr then arrive merged
     * on 'stdout' (with terminal line endings, \r\n), as on a terminal; `tput cols` prints cols.
     */
    tty: z
      .object({ cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) })
      .strict()
      .optional(),
  })
  .strict();
export type ExecuteRequest = z.infer<typeof ExecuteRequestSchema>;
export type ExecuteRequestInput = z.input<typeof ExecuteRequestSchema>;

export interface ExecutionUsage {
  /**
   * CPU time used in the sandbox while the program ran, in seconds: the container's cgroup
   * accounting (every process of the execution, waited for or not). Where the cgroup cannot be
   * read, the program's own rusage (user + system, its waited-for children included).
   */
  cpuSeconds: number;
  /** Peak resident memory of the program, in MiB. */
  memoryPeakMb: number;
}

export interface ExecuteResult {
  executionId: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
  /** True when stdout or stderr went over the per-stream cap and was cut. */
  truncated: boolean;
  timedOut: boolean;
  oomKilled: boolean;
  usage: ExecutionUsage;
  /** True when the program failed to compile (a syntax or build error): it never ran. */
  compileError: boolean;
}

/** Who an execution belongs to: an API key id or an on-chain caller. Warm containers are per owner. */
export type Owner = string;

/** A progress report of a running program (`faas-progress 40 loading`, `progress(40, "loading")`). */
export interface ProgressEvent {
  /** 0..100 (reports out of range are clamped, non-numbers dropped). */
  percent: number;
  message: string;
}

/** Handed to `onStart`: steers a running execution. Calls after it completed do nothing. */
export interface ExecutionControl {
  /** Writes to the running program's stdin (or PTY). */
  sendInput(data: string | Uint8Array): void;
  /** Closes its stdin (EOF). On a PTY: sends the terminal's end-of-file character (Ctrl-D). */
  closeInput(): void;
  /** Resizes its PTY (when it runs with `tty`); a no-op otherwise. */
  resize(cols: number, rows: number): void;
  /** Kills the program (its whole process group); the execution then completes with exit 137. */
  kill(): void;
}

export interface ExecuteOptions {
  owner?: Owner;
  /**
   * The execution id to use (the API generates it before starting); default randomUUID().
   * 1 to 128 characters: letters, digits, `_`, `-`, `.`; not starting with `.`.
   */
  id?: string;
  /**
   * Keep stdin open after the request's `stdin` was written, for `sendInput` (until
   * `closeInput` or the program's end). Default false: the request's stdin, then EOF.
   */
  interactive?: boolean;
  /** Receives output chunks as they are produced. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Called once the program runs, with the means to steer it. */
  onStart?: (control: ExecutionControl) => void;
  /** Receives the program's progress reports as they are made. */
  onProgress?: (progress: ProgressEvent) => void;
}

/** What an execution id may look like (it names directories inside the sandbox). */
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
