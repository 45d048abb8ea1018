// Request and result types of the sandbox engine. The request's zod schemas are the wire
// contract of the @faas/sdk package (sdk/typescript/src/wire/execute.ts), re-exported here.
export { LANGUAGES, LanguageSchema, MODES, ModeSchema, ISOLATIONS, IsolationSchema, MAX_CODE_BYTES, fileNameProblem, ResourcesSchema, ExecuteRequestSchema } from '@faas/sdk/wire';
export type { Language, Mode, Isolation, Resources, ResourcesInput, ExecuteRequest, ExecuteRequestInput } from '@faas/sdk/wire';

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
