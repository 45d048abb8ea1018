// Operator configuration: environment variables with defaults, validated once at start.
// A bad value stops the process with a message naming the variable and what it accepts.
import { z } from 'zod';
// The languages and isolation tiers are the wire contract's (the sandbox reads this module's
// types; this module imports nothing of the sandbox).
import { ISOLATIONS, LANGUAGES } from '@faas/sdk/wire';
import type { Isolation } from '@faas/sdk/wire';
import { ValidationError } from '@faas/sdk/errors';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const num = (def: number, min = 0) => z.coerce.number().min(min).default(def);
const list = <T extends string>(values: readonly [T, ...T[]], def: string) =>
  z
    .string()
    .default(def)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)));

/** Environment variable name → schema. The names are what operators set. */
export const ConfigEnvSchema = z.object({
  FAAS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  DOCKER_HOST: z.string().optional(),
  /** Executions run at once; more wait in the queue. */
  FAAS_MAX_CONCURRENT: int(8, 1),
  /** Executions allowed to wait; one more is refused with QUEUE_FULL. */
  FAAS_MAX_QUEUED: int(256, 0),
  FAAS_MAX_CPU_CORES: num(2, 0.01),
  FAAS_MAX_MEMORY_MB: int(4096, 16),
  FAAS_MAX_TIMEOUT_MS: int(300_000, 1),
  FAAS_MAX_DISK_MB: int(2048, 1),
  /** GPUs this host can hand to sandboxes (0: a request with gpuCount > 0 is refused). */
  FAAS_GPU_COUNT: int(0, 0),
  FAAS_MAX_OUTPUT_BYTES: int(1 << 20, 1),
  /**
   * Largest frame the host accepts from a sandbox agent or an instance relay; a bigger one ends
   * that sandbox or channel. Default: a little over the largest legitimate frame (a result
   * with both streams at FAAS_MAX_OUTPUT_BYTES, base64) and at least 16 MiB (snapshot chunks).
   */
  FAAS_MAX_FRAME_BYTES: z.coerce.number().int().min(1 << 16).max(256 << 20).optional(), // node strings end at 512 MiB
  FAAS_MAX_FILES_BYTES: int(32 << 20, 0),
  FAAS_PIDS_LIMIT: int(256, 16),
  /** Unassigned warm containers kept ready per (language, resources) that has been used. */
  FAAS_WARM_POOL_SIZE: int(1, 0),
  /** Languages whose warm pool is filled at start, before any request. */
  FAAS_PREWARM_LANGUAGES: list(LANGUAGES, 'python,javascript'),
  /** Warm containers one owner may hold per configuration. */
  FAAS_OWNER_MAX_CONTAINERS: int(4, 1),
  /** An owner's warm container idle this long is removed. */
  FAAS_IDLE_TIMEOUT_MS: int(120_000, 1000),
  /** Pristine containers kept started for ephemeral executions, per prewarmed language. */
  FAAS_EPHEMERAL_POOL_SIZE: int(2, 0),
  /** The operator API (HTTP + WebSocket). */
  FAAS_API_HOST: z.string().min(1).default('127.0.0.1'),
  FAAS_API_PORT: int(8080, 0),
  /** Largest request body, MiB (an execute carries code, files and stdin). */
  FAAS_API_BODY_LIMIT_MB: int(64, 1),
  /** A request still unanswered after this long is cut off (executions have their own timeout). */
  FAAS_API_REQUEST_TIMEOUT_MS: int(330_000, 1000),
  /** Default per-key limits: requests per window, the window, and executions at once (queued
   *  ones included; the engine's own queue decides how many really run in parallel). */
  FAAS_RATE_LIMIT_REQUESTS: int(600, 1),
  FAAS_RATE_LIMIT_WINDOW_MS: int(60_000, 1000),
  FAAS_RATE_LIMIT_CONCURRENT: int(64, 1),
  /** The price table (in credits) and the credit a new key starts with. */
  FAAS_PRICE_PER_EXECUTION: num(0.0001),
  FAAS_PRICE_PER_CPU_SECOND: num(0.00002),
  FAAS_PRICE_PER_GB_SECOND: num(0.0000025),
  FAAS_DEFAULT_CREDIT: num(10),
  /** Which blocks' job calls the operator acts on: finalized, or best (sooner, may be reverted). */
  FAAS_FOLLOW: z.enum(['finalized', 'best']).default('finalized'),
  /** Where snapshot files are kept (one tar per content hash); default: beside the database. */
  FAAS_SNAPSHOT_DIR: z.string().min(1).optional(),
  /** Where the host makes each execution container's socket directory (the direct host <->
   *  agent channel, instead of Docker's attach relay); `off`: attach only. Used when the
   *  operator runs as root with a local Docker engine (it must own the directory for the
   *  sandbox's uid). */
  FAAS_AGENT_SOCKET_DIR: z.string().min(1).default('/run/faas-agent'),
  /** Contexts one family container (a stateful context and what is branched from it) has room
   *  for: its memory, disk and process limits are this many times the request's. */
  FAAS_FAMILY_CONTEXTS: int(8, 1),
  /** A stateful context that ran nothing this long is ended (its snapshots stay). */
  FAAS_CONTEXT_IDLE_MS: int(30 * 60_000, 1000),
  /** The embedded database (jobs, outputs, API keys, usage). */
  FAAS_DB_PATH: z.string().min(1).default('.faas/operator.db'),
  /** Persistent instances: the devbox image they run. */
  FAAS_INSTANCE_IMAGE: z.string().min(1).default('faas-devbox:latest'),
  /** `auto`: a missing devbox image is built by the operator on the first instance start (and
   *  `npm start` brings it up to date in the background once it serves); `off`: never built here. */
  FAAS_INSTANCE_IMAGE_BUILD: z.enum(['auto', 'off']).default('auto'),
  /** How long an instance start waits for a devbox build under way before answering
   *  RESOURCE_UNAVAILABLE with the build's progress (below the SDK's 90 s for a start). */
  FAAS_INSTANCE_IMAGE_WAIT_S: int(60, 0),
  /**
   * Exposed instance ports get a host name of their own, `<instance id>-<name>.<domain>`, so each
   * is its own origin. `localhost` works out of the box (browsers and curl resolve every
   * *.localhost to loopback); a real deployment sets a domain with a wildcard DNS record.
   */
  FAAS_EXPOSE_DOMAIN: z
    .string()
    .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS name, lower case, e.g. faas.example.com')
    .default('localhost'),
  /** Outbound network for instances: none, or allowed (then each instance opts in with `network: true`). */
  FAAS_INSTANCE_NETWORK: z.enum(['none', 'allowed']).default('none'),
  /** Ports the operator's per-instance SSH relays may listen on, e.g. 22000-22999 (empty: any free port). */
  FAAS_INSTANCE_PORT_RANGE: z
    .string()
    .default('')
    .refine((s) => s === '' || /^\d{1,5}-\d{1,5}$/.test(s), 'expected LOW-HIGH, e.g. 22000-22999, or empty'),
  /** Idle seconds before an instance started with `autoStop: true` is stopped. */
  FAAS_INSTANCE_IDLE_TIMEOUT_S: int(1800, 1),
  /** An instance's ttl when it asks for none, and the most it may ask for (seconds). */
  FAAS_INSTANCE_TTL_S: int(8 * 3600, 1),
  FAAS_INSTANCE_MAX_TTL_S: int(7 * 24 * 3600, 1),
  /** Instances one key may have at once (running or paused). */
  FAAS_INSTANCE_MAX_PER_KEY: int(4, 1),
  /** Processes one instance may run (a dev box runs more than one execution). */
  FAAS_INSTANCE_PIDS_LIMIT: int(1024, 16),
  // ---- Per-key quotas (hostile tenants): over one, QUOTA_EXCEEDED (or 429 where waiting helps), nothing started.
  /** Execution records one key keeps in memory (finished ones are evicted oldest first), and their bytes (replay + result). */
  FAAS_KEY_MAX_EXECUTIONS: int(1000, 1),
  FAAS_KEY_MAX_EXECUTION_BYTES: int(64 << 20, 1),
  /** How long a finished execution stays queryable (if not evicted before). */
  FAAS_EXECUTION_RETAIN_MS: int(3600_000, 1000),
  /** stdin one execution may be sent over its life (WebSocket `stdin` and POST …/input, queued or not). */
  FAAS_MAX_STDIN_BYTES: int(16 << 20, 1),
  /** Warm containers one key may hold across all its configurations (FAAS_OWNER_MAX_CONTAINERS is per configuration). */
  FAAS_KEY_MAX_WARM_CONTAINERS: int(8, 1),
  /** Family containers (stateful contexts made by an execute, with everything branched from them) one key may have. */
  FAAS_KEY_MAX_FAMILY_CONTAINERS: int(4, 1),
  /** Live stateful contexts (restores and branches included) one key may have. */
  FAAS_KEY_MAX_CONTEXTS: int(32, 1),
  /** Bytes of snapshot files on disk one key may hold. */
  FAAS_KEY_MAX_SNAPSHOT_BYTES: int(1 << 30, 1),
  /** Instance file listings and archives one key may run at once. */
  FAAS_KEY_MAX_FILE_OPS: int(2, 1),
  /** Per client IP on the public routes (GET /v1/outputs/:hash, GET /v1/jobs/:serviceId/:callId): requests per window. */
  FAAS_PUBLIC_RATE_LIMIT_REQUESTS: int(120, 1),
  FAAS_PUBLIC_RATE_LIMIT_WINDOW_MS: int(60_000, 1000),
  // ---- Isolation tiers (hostile tenants): runc (default) or gvisor (runsc, installed by setup-host).
  /** The tier a request runs under when it names none. */
  FAAS_ISOLATION: z.enum(ISOLATIONS).default('runc'),
  /** Tiers a request may ask for with `isolation` (default: only FAAS_ISOLATION). */
  FAAS_ALLOWED_ISOLATION: z
    .string()
    .optional()
    .transform((s) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean)))
    .pipe(z.array(z.enum(ISOLATIONS)).min(1).optional()),
});

export type ConfigEnv = z.infer<typeof ConfigEnvSchema>;

export interface SandboxLimits {
  maxCpuCores: number;
  maxMemoryMb: number;
  maxTimeoutMs: number;
  maxDiskMb: number;
  gpuCount: number;
  maxOutputBytes: number;
  /** Largest frame accepted from inside a sandbox (FAAS_MAX_FRAME_BYTES). */
  maxFrameBytes: number;
  maxFilesBytes: number;
  pidsLimit: number;
  /** Isolation tiers: the default and those a request may name (the default among them). */
  isolation: { default: Isolation; allowed: Isolation[] };
}

/** What persistent instances are started with (FAAS_INSTANCE_*; `listenHost` is the API's host). */
export interface InstanceSettings {
  /** The devbox image instances run. */
  image: string;
  /** Whether the operator builds a missing devbox image itself (on first use; devbox-image.ts). */
  imageBuild: boolean;
  /** How long an instance start waits for a build under way before answering with its progress (s). */
  imageWaitS: number;
  /** Whether an instance may ask for outbound network. */
  allowNetwork: boolean;
  /** Where the operator's SSH relays listen (the API's host). */
  listenHost: string;
  /** Ports the SSH relays may take; null: any free port. */
  portRange: [number, number] | null;
  /** Idle time of `autoStop: true`, seconds. */
  idleTimeoutS: number;
  defaultTtlS: number;
  maxTtlS: number;
  /** Instances one key may have running (or paused) at once. */
  maxPerKey: number;
  /** Processes one instance may run. */
  pidsLimit: number;
}

export interface RateLimits {
  requests: number;
  windowMs: number;
  concurrent: number;
}

export interface PriceTable {
  perExecution: number;
  perCpuSecond: number;
  perGbSecond: number;
}

export interface Config {
  logLevel: ConfigEnv['FAAS_LOG_LEVEL'];
  follow: 'finalized' | 'best';
  dbPath: string;
  api: { host: string; port: number; bodyLimitBytes: number; requestTimeoutMs: number };
  rateLimits: RateLimits;
  prices: PriceTable;
  defaultCredit: number;
  dockerHost?: string;
  queue: { concurrency: number; maxQueued: number };
  limits: SandboxLimits;
  pools: {
    warmPoolSize: number;
    prewarmLanguages: (typeof LANGUAGES)[number][];
    ownerMaxContainers: number;
    idleTimeoutMs: number;
    ephemeralPoolSize: number;
  };
  stateful: { snapshotDir: string | null; familyContexts: number; contextIdleMs: number };
  /** The host directory of the agents' socket directories; null: Docker's attach stream only. */
  agentSocketDir: string | null;
  /** The instance manager's settings but where its relays listen (the API's host). */
  instances: Omit<InstanceSettings, 'listenHost'>;
  /** Per-key quotas (hostile tenants). */
  quotas: Quotas;
  /** The domain under which each exposed port gets its own host name (FAAS_EXPOSE_DOMAIN). */
  exposeDomain: string;
}

export interface Quotas {
  executionRecords: number;
  executionRecordBytes: number;
  executionRetainMs: number;
  stdinBytes: number;
  warmContainers: number;
  familyContainers: number;
  contexts: number;
  snapshotBytes: number;
  fileOps: number;
  /** Per client IP, on the public routes. */
  publicRateLimit: { requests: number; windowMs: number };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'config');
    throw new ValidationError(name, `${issue.message} (got ${JSON.stringify(env[name])})`);
  }
  const e = parsed.data;
  return {
    logLevel: e.FAAS_LOG_LEVEL,
    follow: e.FAAS_FOLLOW,
    dbPath: e.FAAS_DB_PATH,
    api: { host: e.FAAS_API_HOST, port: e.FAAS_API_PORT, bodyLimitBytes: e.FAAS_API_BODY_LIMIT_MB << 20, requestTimeoutMs: e.FAAS_API_REQUEST_TIMEOUT_MS },
    rateLimits: { requests: e.FAAS_RATE_LIMIT_REQUESTS, windowMs: e.FAAS_RATE_LIMIT_WINDOW_MS, concurrent: e.FAAS_RATE_LIMIT_CONCURRENT },
    prices: { perExecution: e.FAAS_PRICE_PER_EXECUTION, perCpuSecond: e.FAAS_PRICE_PER_CPU_SECOND, perGbSecond: e.FAAS_PRICE_PER_GB_SECOND },
    defaultCredit: e.FAAS_DEFAULT_CREDIT,
    dockerHost: e.DOCKER_HOST,
    queue: { concurrency: e.FAAS_MAX_CONCURRENT, maxQueued: e.FAAS_MAX_QUEUED },
    limits: {
      maxCpuCores: e.FAAS_MAX_CPU_CORES,
      maxMemoryMb: e.FAAS_MAX_MEMORY_MB,
      maxTimeoutMs: e.FAAS_MAX_TIMEOUT_MS,
      maxDiskMb: e.FAAS_MAX_DISK_MB,
      gpuCount: e.FAAS_GPU_COUNT,
      maxOutputBytes: e.FAAS_MAX_OUTPUT_BYTES,
      maxFrameBytes: e.FAAS_MAX_FRAME_BYTES ?? Math.min(256 << 20, Math.max(16 << 20, Math.ceil((e.FAAS_MAX_OUTPUT_BYTES * 8) / 3) + (1 << 20))),
      maxFilesBytes: e.FAAS_MAX_FILES_BYTES,
      pidsLimit: e.FAAS_PIDS_LIMIT,
      isolation: { default: e.FAAS_ISOLATION, allowed: [...new Set([e.FAAS_ISOLATION, ...(e.FAAS_ALLOWED_ISOLATION ?? [])])] },
    },
    pools: {
      warmPoolSize: e.FAAS_WARM_POOL_SIZE,
      prewarmLanguages: e.FAAS_PREWARM_LANGUAGES,
      ownerMaxContainers: e.FAAS_OWNER_MAX_CONTAINERS,
      idleTimeoutMs: e.FAAS_IDLE_TIMEOUT_MS,
      ephemeralPoolSize: e.FAAS_EPHEMERAL_POOL_SIZE,
    },
    stateful: { snapshotDir: e.FAAS_SNAPSHOT_DIR ?? null, familyContexts: e.FAAS_FAMILY_CONTEXTS, contextIdleMs: e.FAAS_CONTEXT_IDLE_MS },
    agentSocketDir: e.FAAS_AGENT_SOCKET_DIR === 'off' ? null : e.FAAS_AGENT_SOCKET_DIR,
    exposeDomain: e.FAAS_EXPOSE_DOMAIN,
    instances: {
      image: e.FAAS_INSTANCE_IMAGE,
      imageBuild: e.FAAS_INSTANCE_IMAGE_BUILD === 'auto',
      imageWaitS: e.FAAS_INSTANCE_IMAGE_WAIT_S,
      allowNetwork: e.FAAS_INSTANCE_NETWORK === 'allowed',
      portRange: e.FAAS_INSTANCE_PORT_RANGE ? (e.FAAS_INSTANCE_PORT_RANGE.split('-').map(Number) as [number, number]) : null,
      idleTimeoutS: e.FAAS_INSTANCE_IDLE_TIMEOUT_S,
      defaultTtlS: e.FAAS_INSTANCE_TTL_S,
      maxTtlS: e.FAAS_INSTANCE_MAX_TTL_S,
      maxPerKey: e.FAAS_INSTANCE_MAX_PER_KEY,
      pidsLimit: e.FAAS_INSTANCE_PIDS_LIMIT,
    },
    quotas: {
      executionRecords: e.FAAS_KEY_MAX_EXECUTIONS,
      executionRecordBytes: e.FAAS_KEY_MAX_EXECUTION_BYTES,
      executionRetainMs: e.FAAS_EXECUTION_RETAIN_MS,
      stdinBytes: e.FAAS_MAX_STDIN_BYTES,
      warmContainers: e.FAAS_KEY_MAX_WARM_CONTAINERS,
      familyContainers: e.FAAS_KEY_MAX_FAMILY_CONTAINERS,
      contexts: e.FAAS_KEY_MAX_CONTEXTS,
      snapshotBytes: e.FAAS_KEY_MAX_SNAPSHOT_BYTES,
      fileOps: e.FAAS_KEY_MAX_FILE_OPS,
      publicRateLimit: { requests: e.FAAS_PUBLIC_RATE_LIMIT_REQUESTS, windowMs: e.FAAS_PUBLIC_RATE_LIMIT_WINDOW_MS },
    },
  };
}
