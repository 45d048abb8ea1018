// The request of an execution, as the engine, the API and the SDK take it. These zod schemas
// are the one source of the types (z.infer); the operator's engine imports them from here.
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

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

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
        z
          .string()
          .refine((v) => !v.includes('\0'), 'must not contain NUL')
          // A process's environment is bytes: a lone UTF-16 surrogate has no encoding there.
          .refine((v) => !LONE_SURROGATE.test(v), 'must be well-formed Unicode (a lone surrogate cannot be passed to a process)'),
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
