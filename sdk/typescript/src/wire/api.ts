// The HTTP/WebSocket API's wire shapes. These zod schemas are the one source of the request
// and response types (z.infer): the SDK validates nothing twice, the operator's gateway imports
// them from this package (@faas/sdk/wire), and /openapi.json is generated from them.
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
import { ExecuteRequestSchema, LanguageSchema, ModeSchema } from './execute.js';

/** Bytes on the wire: a UTF-8 string, or `{ base64 }` for binary content. */
export const WireBytesSchema = z.union([z.string(), z.object({ base64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64') }).strict()]);
export type WireBytes = z.infer<typeof WireBytesSchema>;

/** POST /v1/executions. The engine's request, with bytes as JSON can carry them. */
export const ExecuteBodySchema = ExecuteRequestSchema.extend({
  /** Required, except with `executionId`: a run in an existing context takes the context's language. */
  language: LanguageSchema.optional(),
  files: z.record(z.string(), WireBytesSchema).optional(),
  stdin: WireBytesSchema.optional(),
  /** false: answer 202 at once with the execution id (then stream or poll it). Default true: answer with the result. */
  wait: z.boolean().optional(),
  /** Keep stdin open for `stdin` messages over the stream (with wait: false). */
  interactive: z.boolean().optional(),
  tty: z.object({ cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }).strict().optional(),
})
  .strict()
  .refine((b) => b.language !== undefined || b.executionId !== undefined, { path: ['language'], message: 'is required (it may be left out only with executionId: the context’s language is used)' });
export type ExecuteBody = z.input<typeof ExecuteBodySchema>;

export const UsageSchema = z.object({ cpuSeconds: z.number(), memoryPeakMb: z.number() });

export const ExecutionResultSchema = z.object({
  executionId: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  exitCode: z.number().int(),
  durationMs: z.number(),
  truncated: z.boolean(),
  timedOut: z.boolean(),
  oomKilled: z.boolean(),
  /** The program failed to compile (syntax or build error) and never ran. */
  compileError: z.boolean(),
  usage: UsageSchema,
  /** Present when the program could not run: a syntax or compile error, the time limit, out of memory. */
  failure: z.enum(['compile', 'timeout', 'oom']).optional(),
});
export type ExecutionResultBody = z.infer<typeof ExecutionResultSchema>;

export const EXECUTION_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export const ExecutionStatusSchema = z.enum(EXECUTION_STATUSES);

/** GET /v1/executions/:id, and the 202 answer of a `wait: false` execute. */
export const ExecutionInfoSchema = z.object({
  executionId: z.string(),
  status: ExecutionStatusSchema,
  language: LanguageSchema,
  mode: ModeSchema,
  createdAt: z.string(),
  result: ExecutionResultSchema.optional(),
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }).optional(),
});
export type ExecutionInfo = z.infer<typeof ExecutionInfoSchema>;

/** Events the server sends on /v1/executions/:id/stream (JSON text frames). */
export const StreamEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('output'), data: z.string() }),
  z.object({ type: z.literal('error'), data: z.string().optional(), error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }).optional() }),
  z.object({ type: z.literal('progress'), percent: z.number(), message: z.string() }),
  z.object({ type: z.literal('complete'), exitCode: z.number().int(), result: ExecutionResultSchema }),
]);
export type StreamEvent = z.infer<typeof StreamEventSchema>;

/** Messages the client sends on the stream. */
export const StreamInputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stdin'), data: z.string() }).strict(),
  z.object({ type: z.literal('stdin_close') }).strict(),
  z.object({ type: z.literal('resize'), cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }).strict(),
  z.object({ type: z.literal('kill') }).strict(),
]);
export type StreamInput = z.infer<typeof StreamInputSchema>;

/** POST /v1/executions/:id/input: where the execution stands once the message was taken. */
export const ExecutionInputAnswerSchema = z.object({ executionId: z.string(), status: ExecutionStatusSchema });

/** GET /v1/usage/metrics?startDate=&endDate= (ISO dates or date-times). */
export const MetricsQuerySchema = z
  .object({
    startDate: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
    endDate: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  })
  .strict();

export const UsageTotalsSchema = z.object({
  executions: z.number().int(),
  cpuSeconds: z.number(),
  memoryGbSeconds: z.number(),
  cost: z.number(),
});
export type UsageTotals = z.infer<typeof UsageTotalsSchema>;

export const UsageMetricsSchema = UsageTotalsSchema.extend({
  startDate: z.string(),
  endDate: z.string(),
  /** The same totals per UTC day of the period. */
  daily: z.array(UsageTotalsSchema.extend({ date: z.string() })),
});
export type UsageMetrics = z.infer<typeof UsageMetricsSchema>;

export const CurrentUsageSchema = UsageTotalsSchema.extend({
  credit: z.number(),
  balance: z.number(),
  activeExecutions: z.number().int(),
  rateLimit: z.object({ limit: z.number().int(), remaining: z.number().int(), resetAt: z.string(), windowMs: z.number().int(), maxConcurrent: z.number().int() }),
  prices: z.object({ perExecution: z.number(), perCpuSecond: z.number(), perGbSecond: z.number() }),
});
export type CurrentUsage = z.infer<typeof CurrentUsageSchema>;

export const ErrorBodySchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  field: z.string().optional(),
  resetAt: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

// ---- Persistent instances (/v1/instances, /i/<id>/<name>/) ----------------------------------

/** POST /v1/instances: the instance manager's own request schema. */
export { InstanceSpecSchema as InstanceStartBodySchema } from './instances.js';
export type { InstanceSpecInput as InstanceStartBody } from './instances.js';

export const INSTANCE_STATUSES = ['running', 'paused', 'stopped'] as const;

export const InstanceInfoSchema = z.object({
  id: z.string(),
  status: z.enum(INSTANCE_STATUSES),
  createdAt: z.string(),
  /** When the ttl runs out and the instance is stopped. */
  expiresAt: z.string(),
  language: LanguageSchema,
  resources: z.object({ cpuCores: z.number(), memoryMb: z.number(), diskGb: z.number(), gpuCount: z.number() }),
  network: z.boolean(),
  /** Idle seconds before an automatic stop; null: never for idleness. */
  autoStop: z.number().nullable(),
  stoppedAt: z.string().optional(),
  stopReason: z.enum(['user', 'ttl', 'idle', 'exited', 'lost']).optional(),
  /** CPU from the container's cgroup (nothing while paused); time paused; time since start (or until stop). */
  usage: z.object({ cpuSeconds: z.number(), pausedSeconds: z.number(), uptimeSeconds: z.number() }),
});
export type InstanceInfo = z.infer<typeof InstanceInfoSchema>;

export const InstanceListSchema = z.object({ instances: z.array(InstanceInfoSchema) });

/** POST /v1/instances/:id/ssh. `rotateKey`: make a new key pair (the old one stops working) and hand out its private key. */
export const SshBodySchema = z.object({ rotateKey: z.boolean().optional() }).strict();

export const SshInfoSchema = z.object({
  host: z.string(),
  port: z.number().int(),
  username: z.string(),
  /** The instance's private key (OpenSSH format): given once; null on later calls. */
  privateKey: z.string().nullable(),
  /** Fingerprint of the instance's key pair (SHA256:…). */
  fingerprint: z.string(),
  /** The instance's sshd host key (`ssh-ed25519 AAAA…`) for known_hosts; null when it cannot be read (paused). */
  hostKey: z.string().nullable(),
  /** `ssh -i <key file> -p PORT user@host` */
  command: z.string(),
});
export type SshInfo = z.infer<typeof SshInfoSchema>;

/** POST /v1/instances/:id/expose */
export const ExposeBodySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1-32 lowercase letters, digits or -, not starting with -'),
    port: z.number().int().min(1).max(65535),
    /** Default true: the port sees the request's path as it is. False: `/i/<id>/<name>` is put before it (for apps configured with that base path). */
    stripPrefix: z.boolean().optional(),
  })
  .strict();
export type ExposeBody = z.infer<typeof ExposeBodySchema>;

export const ExposureSchema = z.object({
  name: z.string(),
  port: z.number().int(),
  stripPrefix: z.boolean(),
  /** http://<id>-<name>.<FAAS_EXPOSE_DOMAIN>:<gateway port>/ — an origin of its own */
  url: z.string(),
  /** The URL's own access token (given once, at expose): `?faas_token=` or the cookie it sets. */
  token: z.string().optional(),
});
export type Exposure = z.infer<typeof ExposureSchema>;

/** POST /v1/instances/:id/exec: a command run as the instance's user (a string runs under `bash -lc`). */
export const InstanceExecBodySchema = z
  .object({
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    stdin: WireBytesSchema.optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), z.string()).optional(),
    cwd: z.string().optional(),
    timeoutMs: z.number().int().min(1).max(3600_000).optional(),
  })
  .strict();
export type InstanceExecBody = z.input<typeof InstanceExecBodySchema>;

export const InstanceExecResultSchema = z.object({ stdout: z.string(), stderr: z.string(), exitCode: z.number().int(), timedOut: z.boolean(), truncated: z.boolean() });
export type InstanceExecResult = z.infer<typeof InstanceExecResultSchema>;

/** A path in an instance: absolute, or relative to its HOME (/home/sandbox). */
const RemotePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'must not contain NUL');

export const FileEntrySchema = z.object({
  /** Relative to the listed path, with `/`. */
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number(),
  mtimeMs: z.number(),
  /** Permission bits (e.g. 0o755 = 493). */
  mode: z.number().int(),
  target: z.string().optional(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** POST /v1/instances/:id/files/list: the tree under a path. */
export const FileListBodySchema = z.object({ path: RemotePathSchema }).strict();
export const FileListSchema = z.object({ path: z.string(), exists: z.boolean(), type: z.enum(['file', 'dir', 'symlink']).optional(), entries: z.array(FileEntrySchema) });
export type FileList = z.infer<typeof FileListSchema>;

/** POST /v1/instances/:id/files/archive: a tar (pax) of `path` (one entry named after it), or of `entries` under it. */
export const FileArchiveBodySchema = z.object({ path: RemotePathSchema, entries: z.array(z.string().min(1)).optional() }).strict();

/** POST /v1/instances/:id/files/delete: removes `entries` (relative) under `path`. */
export const FileDeleteBodySchema = z.object({ path: RemotePathSchema, entries: z.array(z.string().min(1)).min(1) }).strict();

/** PUT /v1/instances/:id/files?path=DIR with a tar body: unpacked into DIR (created), modes and times kept. */
export const FileUploadQuerySchema = z.object({ path: RemotePathSchema }).strict();
export const FileUploadResultSchema = z.object({ path: z.string(), bytes: z.number() });

/** GET /v1/instances/:id/tunnel?port=N: a WebSocket carrying one TCP connection to that port (binary frames). */
export const TunnelQuerySchema = z.object({ port: z.coerce.number().int().min(1).max(65535), apiKey: z.string().optional() }).strict();

/** The launchers' answers: `url` opens in a browser as it is (it carries the exposed URL's token, `accessToken`). */
export const JupyterInfoSchema = z.object({ url: z.string(), token: z.string(), accessToken: z.string() });
export type JupyterInfo = z.infer<typeof JupyterInfoSchema>;
export const VncInfoSchema = z.object({ url: z.string(), password: z.string(), accessToken: z.string() });
export type VncInfo = z.infer<typeof VncInfoSchema>;
export const VSCodeInfoSchema = z.object({ url: z.string(), accessToken: z.string() });
export type VSCodeInfo = z.infer<typeof VSCodeInfoSchema>;

// ---- Snapshots and branches (/v1/snapshots, /v1/branches) ----------------------------------

const ApiIdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/, 'must be an id as the API returned it');

/** POST /v1/snapshots */
export const CreateSnapshotBodySchema = z.object({ executionId: ApiIdSchema }).strict();
/** POST /v1/branches */
export const CreateBranchBodySchema = z.object({ snapshotId: ApiIdSchema }).strict();
/** POST /v1/branches/merge */
export const MergeBranchesBodySchema = z
  .object({
    branchIds: z.array(ApiIdSchema).min(2, 'give two or more branches of one snapshot').max(64),
    /** 'fail' (default): conflicts are an error and nothing is created; 'ours': the earlier branch in the list wins; 'theirs': the later one. */
    strategy: z.enum(['fail', 'ours', 'theirs']).optional(),
  })
  .strict();

export const SnapshotInfoSchema = z.object({
  id: z.string(),
  executionId: z.string(),
  createdAt: z.string(),
  sizeBytes: z.number().int(),
  hasMemory: z.boolean(),
  contentHash: z.string(),
  language: LanguageSchema,
  baseSnapshotId: z.string().optional(),
});
export type SnapshotInfoBody = z.infer<typeof SnapshotInfoSchema>;

export const RestoreInfoSchema = z.object({ executionId: z.string(), snapshotId: z.string(), hasMemory: z.boolean() });
export type RestoreInfoBody = z.infer<typeof RestoreInfoSchema>;
export const BranchInfoSchema = RestoreInfoSchema.extend({ id: z.string() });
export type BranchInfoBody = z.infer<typeof BranchInfoSchema>;
export const MergeInfoSchema = SnapshotInfoSchema.extend({
  memoryFrom: z.literal('base'),
  strategy: z.enum(['fail', 'ours', 'theirs']),
  conflicts: z.array(z.string()),
  summary: z.object({ added: z.number().int(), changed: z.number().int(), deleted: z.number().int() }),
  branchIds: z.array(z.string()),
});
export type MergeInfoBody = z.infer<typeof MergeInfoSchema>;
export const SnapshotListSchema = z.object({ snapshots: z.array(SnapshotInfoSchema) });
