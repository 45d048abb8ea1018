// One error hierarchy for the whole product. Every error a user can see is a FaaSError with a
// stable `code`; `HTTP_STATUS_OF_CODE` is the one table from code to HTTP status, shared by
// the API server and the SDK so both sides agree on what a status means.

export const ERROR_CODES = [
  'VALIDATION_ERROR',
  'RESOURCE_UNAVAILABLE',
  'QUEUE_FULL',
  'NOT_IMPLEMENTED',
  'NOT_FOUND',
  'AUTH_ERROR',
  'RATE_LIMIT_EXCEEDED',
  'EXECUTION_ERROR',
  'TIMEOUT',
  'SANDBOX_ERROR',
  'SHUTTING_DOWN',
  'INTERNAL_ERROR',
  'CONFLICT',
  'MERGE_CONFLICT',
  'QUOTA_EXCEEDED',
  'INSUFFICIENT_CREDIT',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const HTTP_STATUS_OF_CODE: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  RESOURCE_UNAVAILABLE: 422,
  QUEUE_FULL: 503,
  NOT_IMPLEMENTED: 501,
  NOT_FOUND: 404,
  AUTH_ERROR: 401,
  RATE_LIMIT_EXCEEDED: 429,
  EXECUTION_ERROR: 422,
  TIMEOUT: 504,
  SANDBOX_ERROR: 500,
  SHUTTING_DOWN: 503,
  INTERNAL_ERROR: 500,
  CONFLICT: 409,
  MERGE_CONFLICT: 409,
  QUOTA_EXCEEDED: 403,
  INSUFFICIENT_CREDIT: 402,
};

/** Codes a caller may retry as they are (the same request can succeed later). */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set(['QUEUE_FULL', 'RATE_LIMIT_EXCEEDED', 'SHUTTING_DOWN']);

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field?: string;
  /** When a rate-limited call may be tried again (ISO time). */
  resetAt?: string;
  details?: Record<string, unknown>;
}

/** Base class of every error the product throws on purpose. */
export class FaaSError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return HTTP_STATUS_OF_CODE[this.code];
  }
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
  toJSON(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Thrown when a request or config value is malformed; `field` names the value at fault. */
export class ValidationError extends FaaSError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('VALIDATION_ERROR', `${field}: ${message}`, { field });
    this.field = field;
  }
  override toJSON(): ErrorBody {
    return { ...super.toJSON(), field: this.field };
  }
}

/** Thrown when a request asks for more than this operator offers (GPUs, memory over the cap...). */
export class ResourceUnavailableError extends FaaSError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('RESOURCE_UNAVAILABLE', `${field}: ${message}`, { field });
    this.field = field;
  }
}

/** Thrown when the execution queue is full. Nothing was started; retry after a short wait. */
export class QueueFullError extends FaaSError {
  constructor(queued: number) {
    super('QUEUE_FULL', `The execution queue is full (${queued} waiting); retry in a moment.`, { queued });
  }
}

/** Thrown for a feature this operator does not offer yet; nothing was started. */
export class NotImplementedError extends FaaSError {
  constructor(feature: string) {
    super('NOT_IMPLEMENTED', `${feature} is not available on this operator yet.`, { feature });
  }
}

/** Thrown when an execution, snapshot or instance does not exist or belongs to someone else. */
export class NotFoundError extends FaaSError {
  constructor(kind: string, id: string) {
    super('NOT_FOUND', `No ${kind} with id ${id}.`, { kind, id });
  }
}

/** Thrown when a resource is not in a state that allows the call (e.g. a stopped or paused instance); `field` names what is at odds. */
export class ConflictError extends FaaSError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('CONFLICT', `${field}: ${message}`, { field });
    this.field = field;
  }
  override toJSON(): ErrorBody {
    return { ...super.toJSON(), field: this.field };
  }
}

/**
 * Thrown by a branch merge with strategy 'fail' (the default) when two branches changed the
 * same path differently; `conflicts` lists the paths. Nothing was created: merge again with
 * strategy 'ours' (the earlier branch in the list wins) or 'theirs' (the later one wins).
 */
export class MergeConflictError extends FaaSError {
  readonly conflicts: string[];
  constructor(conflicts: string[]) {
    super(
      'MERGE_CONFLICT',
      `The branches changed ${conflicts.length} path(s) differently: ${conflicts.slice(0, 20).join(', ')}${conflicts.length > 20 ? ', ...' : ''}. Nothing was merged; pick a strategy ('ours' or 'theirs') or change the branches.`,
      { conflicts },
    );
    this.conflicts = conflicts;
  }
}

/** Thrown when an API key is missing, unknown or revoked. */
export class AuthError extends FaaSError {
  constructor(message = 'Missing or invalid API key: pass `Authorization: Bearer <key>`.') {
    super('AUTH_ERROR', message);
  }
}

/** Thrown when a key exceeds its rate limit; `resetAt` says when to try again. */
export class RateLimitError extends FaaSError {
  readonly resetAt: Date;
  constructor(resetAt: Date, message?: string) {
    super('RATE_LIMIT_EXCEEDED', message ?? `Rate limit exceeded; retry after ${resetAt.toISOString()}.`, {
      resetAt: resetAt.toISOString(),
    });
    this.resetAt = resetAt;
  }
  override toJSON(): ErrorBody {
    return { ...super.toJSON(), resetAt: this.resetAt.toISOString() };
  }
}

/** Thrown when a key already holds as much of something as the operator allows it (warm
 *  containers, stateful contexts, snapshot bytes, instances, …); `quota` names it. Free some
 *  (stop an instance, delete snapshots) or ask the operator for a larger quota. Nothing was started. */
export class QuotaExceededError extends FaaSError {
  readonly quota: string;
  constructor(quota: string, message: string) {
    super('QUOTA_EXCEEDED', `${quota}: ${message}`, { quota });
    this.quota = quota;
  }
}

/** Thrown when a key's credit balance is at or below zero: add credit (operator CLI
 *  `keys credit`, or a new key) before running more. Nothing was started. */
export class InsufficientCreditError extends FaaSError {
  constructor(message: string) {
    super('INSUFFICIENT_CREDIT', message);
  }
}

/** Thrown when the sandbox itself failed (container died, agent unreachable) — not the user's code. */
export class SandboxError extends FaaSError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('SANDBOX_ERROR', message, details);
  }
}

/** Thrown for work submitted while the engine is shutting down; retry against a live operator. */
export class ShuttingDownError extends FaaSError {
  constructor() {
    super('SHUTTING_DOWN', 'The operator is shutting down; retry shortly.');
  }
}

/** Thrown by the SDKs when a program could not run (syntax/compile error, time limit, out of
 *  memory), or exited non-zero and the caller asked `throwOnError`. Carries its stderr and exit code. */
export class ExecutionError extends FaaSError {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number,
    /** Why it could not run; absent for a plain non-zero exit. */
    readonly failure?: 'compile' | 'timeout' | 'oom',
  ) {
    super('EXECUTION_ERROR', message, { exitCode, ...(failure ? { failure } : {}) });
  }
}

/** Thrown when a call got no answer in time (the SDK's `timeout`, or the server's request timeout). */
export class TimeoutError extends FaaSError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** Thrown by the SDKs when the server (the gateway, or a chain node's RPC) cannot be reached or
 *  the connection broke before a whole answer came; `cause` is the network error. Its code is
 *  INTERNAL_ERROR, as in the Python SDK (`FaaSConnectionError`): catch the class to tell a
 *  network failure apart. */
export class ConnectionError extends FaaSError {
  constructor(
    message: string,
    /** What could not be reached. */
    readonly target: string,
    cause?: unknown,
  ) {
    super('INTERNAL_ERROR', message, { target }, { cause });
  }
}

/**
 * For answers without an error body (a proxy's, or a refused WebSocket upgrade): the status
 * alone. The Python SDK has the same table and rule (a test compares them): another 5xx is
 * INTERNAL_ERROR, another 4xx VALIDATION_ERROR (the request was refused).
 */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'AUTH_ERROR',
  402: 'INSUFFICIENT_CREDIT',
  403: 'AUTH_ERROR',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  422: 'EXECUTION_ERROR',
  429: 'RATE_LIMIT_EXCEEDED',
  501: 'NOT_IMPLEMENTED',
  503: 'SHUTTING_DOWN',
  504: 'TIMEOUT',
};

/** The error code an answer without a usable code stands for, by its HTTP status alone. */
export function codeOfStatus(status: number): ErrorCode {
  return CODE_OF_STATUS[status] ?? (status >= 500 || status < 400 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR');
}

/** The error a server's JSON error body stands for, as the class of its code (SDK side). */
export function errorFromBody(body: Partial<ErrorBody> | null, status: number): FaaSError {
  const code = body?.code && (ERROR_CODES as readonly string[]).includes(body.code) ? body.code : codeOfStatus(status);
  const message = body?.message ?? `HTTP ${status}`;
  let e: FaaSError;
  switch (code) {
    case 'VALIDATION_ERROR':
      e = new ValidationError(body?.field ?? 'request', message);
      break;
    case 'RATE_LIMIT_EXCEEDED':
      e = new RateLimitError(new Date(body?.resetAt ?? Date.now() + 1000), message);
      break;
    case 'AUTH_ERROR':
      e = new AuthError(message);
      break;
    case 'MERGE_CONFLICT':
      e = new MergeConflictError(Array.isArray(body?.details?.conflicts) ? (body.details.conflicts as unknown[]).map(String) : []);
      break;
    case 'NOT_FOUND':
      e = new NotFoundError(String(body?.details?.kind ?? 'resource'), String(body?.details?.id ?? ''));
      break;
    case 'NOT_IMPLEMENTED':
      e = new NotImplementedError(String(body?.details?.feature ?? 'This feature'));
      break;
    case 'TIMEOUT':
      e = new TimeoutError(message);
      break;
    case 'CONFLICT':
      e = new ConflictError(body?.field ?? 'request', message);
      break;
    case 'RESOURCE_UNAVAILABLE':
      e = new ResourceUnavailableError(String(body?.details?.field ?? body?.field ?? 'request'), message);
      break;
    case 'QUOTA_EXCEEDED':
      e = new QuotaExceededError(String(body?.details?.quota ?? 'quota'), message);
      break;
    case 'INSUFFICIENT_CREDIT':
      e = new InsufficientCreditError(message);
      break;
    default:
      e = new FaaSError(code, message, body?.details);
  }
  // The server's message already names the field: keep it as sent; and what else the server
  // said in `details` (a build's state, a quota's limit) stays beside the class's own fields.
  Object.defineProperty(e, 'message', { value: message });
  if (body?.details && typeof body.details === 'object') Object.defineProperty(e, 'details', { value: { ...body.details, ...e.details } });
  return e;
}

/** Wraps anything unexpected so callers always see a FaaSError with a code. */
export function toFaaSError(err: unknown): FaaSError {
  if (err instanceof FaaSError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FaaSError('INTERNAL_ERROR', message);
}
