// Request and result types of the sandbox engine. The zod schemas are the one source of
// these types (z.infer), shared by the engine, the operator, the API server and the SDK.
import { z } from 'zod';

export const LANGUAGES = ['python', 'javascript', 'typescript', 'bash', 'go'] as const;
export const LanguageSchema = z.enum(LANGUAGES);
export type Language = z.infer<typeof LanguageSchema>;

export const MODES = ['ephemeral', 'cached', 'checkpointed', 'branched', 'persistent'] as const;
export const ModeSchema = z.enum(MODES);
export type Mode = z.infer<typeof ModeSchema>;

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
  })
  .strict();
export type ExecuteRequest = z.infer<typeof ExecuteRequestSchema>;
export type ExecuteRequestInput = z.input<typeof ExecuteRequestSchema>;

export interface ExecutionUsage {
  /** CPU time of the program (user + system, its waited-for children included), in seconds. */
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
}

/** Who an execution belongs to: an API key id or an on-chain caller. Warm containers are per owner. */
export type Owner = string;

export interface ExecuteOptions {
  owner?: Owner;
  /** Receives output chunks as they are produced. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}
