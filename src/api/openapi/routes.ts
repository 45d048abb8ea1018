// Every route the API serves, as /openapi.json and /docs describe it: path (OpenAPI template),
// parameters, request and answer schemas (by component name, see ./components.ts), success
// statuses and the error codes a caller should expect besides the ones every route can give.
// The test (test/api/openapi.test.ts) holds this list against the routes fastify registered.
import { z } from 'zod';
import type { ErrorCode } from '@faas/sdk/errors';
import { EXPOSE_NAME_PATTERN, INSTANCE_ID_PATTERN } from '../../sandbox/index.js';
import { FileUploadQuerySchema, MetricsQuerySchema, TunnelQuerySchema } from '@faas/sdk/wire';
import type { AnswerName, RequestName } from './components.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A JSON body by its component's name, or bytes of another media type. */
export type Payload<N extends string> = N | { mediaType: string; name?: N; description: string };

export interface SuccessDoc {
  status: 101 | 200 | 201 | 202 | 308;
  description: string;
  body?: Payload<AnswerName>;
}

export interface RouteDoc {
  method: HttpMethod;
  /** OpenAPI path template: `{name}` for each path parameter. */
  path: string;
  summary: string;
  /** Needs an API key (Authorization: Bearer; `?apiKey=` only on WebSocket upgrades). */
  auth: boolean;
  /** Path parameters with a shape of their own (the others: any non-empty segment). */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  /** Request headers the route reads. */
  headers?: Array<{ name: string; description: string; schema: z.ZodType }>;
  body?: Payload<RequestName>;
  /** The body may be left out (an empty POST takes the defaults). */
  bodyOptional?: boolean;
  success: SuccessDoc[];
  /** Error codes of this route besides those of every route (see commonErrors). */
  errors: ErrorCode[];
  /** A WebSocket: what each side sends, one JSON text frame per message. */
  websocket?: { clientSends: RequestName; serverSends: AnswerName };
  /** Served on the raw HTTP server before fastify routes (the exposed-port proxy); listed when `/v1/instances` is. */
  beforeFastify?: true;
}

const ExecutionId = z.string().min(1).max(128);
const InstanceId = z.string().regex(INSTANCE_ID_PATTERN);
const SnapshotId = z.string().min(1).max(128);
const Whole = z.string().regex(/^\d{1,20}$/);
const json = (status: SuccessDoc['status'], body: AnswerName, description = 'OK'): SuccessDoc => ({ status, description, body });

const execution = { id: ExecutionId };
const instance = { id: InstanceId };
const snapshot = { id: SnapshotId };

/** Codes any route may answer with: its own failures and a closing operator. */
export function commonErrors(r: RouteDoc): ErrorCode[] {
  const codes: ErrorCode[] = ['INTERNAL_ERROR', 'SHUTTING_DOWN'];
  if (r.auth) codes.push('AUTH_ERROR', 'RATE_LIMIT_EXCEEDED');
  // The proxy's redirects answer a malformed path 404, like any unknown URL.
  if ((r.body || r.query || r.params || r.headers) && !r.beforeFastify) codes.push('VALIDATION_ERROR');
  return codes;
}

const EXECUTION_ROUTES: RouteDoc[] = [
  {
    method: 'POST',
    path: '/v1/executions',
    summary: 'Run code. Answers the result (200), or at once with the execution id when `wait` is false (202). A program that failed to compile, timed out or ran out of memory is a 200 result with `failure` set.',
    auth: true,
    headers: [{ name: 'Idempotency-Key', description: 'Resending a request with the same key (1-128 letters, digits, _ or -) answers the first one\'s execution instead of running it again.', schema: z.string().regex(/^[\w-]{1,128}$/) }],
    body: 'ExecuteBody',
    success: [json(200, 'ExecutionResult', 'The finished execution (with `wait` true, the default).'), json(202, 'ExecutionInfo', 'Started (with `wait: false`): stream or poll it by its id.')],
    errors: ['RESOURCE_UNAVAILABLE', 'QUEUE_FULL', 'QUOTA_EXCEEDED', 'INSUFFICIENT_CREDIT', 'NOT_FOUND', 'CONFLICT', 'NOT_IMPLEMENTED', 'SANDBOX_ERROR', 'TIMEOUT'],
  },
  { method: 'GET', path: '/v1/executions/{id}', summary: 'An execution of this key: status, and the result once completed.', auth: true, params: execution, success: [json(200, 'ExecutionInfo')], errors: ['NOT_FOUND'] },
  {
    method: 'GET',
    path: '/v1/executions/{id}/stream',
    summary: 'WebSocket. The server sends output / error / progress / complete events (replaying what was already printed); the client sends stdin, stdin_close, resize, kill.',
    auth: true,
    params: execution,
    success: [{ status: 101, description: 'Switching to the WebSocket protocol.' }],
    errors: ['NOT_FOUND'],
    websocket: { clientSends: 'StreamInput', serverSends: 'StreamEvent' },
  },
  {
    method: 'GET',
    path: '/v1/executions/{id}/events',
    summary: "The stream's events over plain HTTP, for clients without WebSocket: newline-delimited JSON, one StreamEvent per line, the replay first; the answer ends after complete (or a failure event). Empty lines are heartbeats.",
    auth: true,
    params: execution,
    success: [{ status: 200, description: 'One StreamEvent per line.', body: { mediaType: 'application/x-ndjson', name: 'StreamEvent', description: 'Each non-empty line is one StreamEvent.' } }],
    errors: ['NOT_FOUND'],
  },
  {
    method: 'POST',
    path: '/v1/executions/{id}/input',
    summary: 'One stream message over plain HTTP: stdin, stdin_close, resize or kill (held until the program runs; ignored once it ended).',
    auth: true,
    params: execution,
    body: 'StreamInput',
    success: [json(200, 'ExecutionInputAnswer')],
    errors: ['NOT_FOUND', 'QUOTA_EXCEEDED'],
  },
];

const USAGE_ROUTES: RouteDoc[] = [
  { method: 'GET', path: '/v1/usage/current', summary: "This key's totals, credit, balance, rate limit and running executions.", auth: true, success: [json(200, 'CurrentUsage')], errors: [] },
  { method: 'GET', path: '/v1/usage/metrics', summary: "This key's totals over a period (default: the last 30 days), per UTC day.", auth: true, query: MetricsQuerySchema, success: [json(200, 'UsageMetrics')], errors: [] },
];

const PUBLIC_ROUTES: RouteDoc[] = [
  { method: 'GET', path: '/v1/health', summary: 'Liveness.', auth: false, success: [json(200, 'Health')], errors: [] },
  {
    method: 'GET',
    path: '/v1/jobs/{serviceId}/{callId}',
    summary: 'Where a chain job stands with this operator (received, executed, submitted). Public, like the chain; limited per client IP.',
    auth: false,
    params: { serviceId: Whole, callId: Whole },
    success: [json(200, 'JobStatus')],
    errors: ['NOT_FOUND', 'RATE_LIMIT_EXCEEDED'],
  },
  {
    method: 'GET',
    path: '/v1/outputs/{hash}',
    summary: 'The full output of a chain job by its output hash (the chain may hold a cut copy); check it against the hash. Public; limited per client IP.',
    auth: false,
    params: { hash: z.string().regex(/^0x[0-9a-fA-F]{64}$/) },
    success: [json(200, 'FullOutput')],
    errors: ['NOT_FOUND', 'RATE_LIMIT_EXCEEDED'],
  },
  { method: 'GET', path: '/openapi.json', summary: 'This document.', auth: false, success: [{ status: 200, description: 'An OpenAPI 3.1 document.', body: { mediaType: 'application/json', description: 'OpenAPI 3.1' } }], errors: [] },
  { method: 'GET', path: '/docs', summary: 'This document as a readable page.', auth: false, success: [{ status: 200, description: 'HTML.', body: { mediaType: 'text/html', description: 'The routes and their schemas.' } }], errors: [] },
];

/** Served by the snapshot service, or answered 501 NOT_IMPLEMENTED where the engine has no snapshots. */
const SNAPSHOT_ROUTES: RouteDoc[] = [
  {
    method: 'POST',
    path: '/v1/snapshots',
    summary: 'Snapshot a stateful context (an execution of mode checkpointed, branched or persistent): its files and, for python, its interpreter memory.',
    auth: true,
    body: 'CreateSnapshotBody',
    success: [json(201, 'SnapshotInfo', 'Created.')],
    errors: ['NOT_FOUND', 'CONFLICT', 'QUOTA_EXCEEDED', 'INSUFFICIENT_CREDIT', 'SANDBOX_ERROR', 'NOT_IMPLEMENTED'],
  },
  { method: 'GET', path: '/v1/snapshots', summary: "This key's snapshots.", auth: true, success: [json(200, 'SnapshotList')], errors: ['NOT_IMPLEMENTED'] },
  { method: 'GET', path: '/v1/snapshots/{id}', summary: 'One snapshot.', auth: true, params: snapshot, success: [json(200, 'SnapshotInfo')], errors: ['NOT_FOUND', 'NOT_IMPLEMENTED'] },
  { method: 'DELETE', path: '/v1/snapshots/{id}', summary: 'Delete a snapshot; its stored files are freed when no other snapshot shares them.', auth: true, params: snapshot, success: [json(200, 'SnapshotDeleted')], errors: ['NOT_FOUND', 'NOT_IMPLEMENTED'] },
  {
    method: 'POST',
    path: '/v1/snapshots/{id}/restore',
    summary: "A new context with the snapshot's files and memory; run code in it with its executionId.",
    auth: true,
    params: snapshot,
    success: [json(201, 'RestoreInfo', 'Created.')],
    errors: ['NOT_FOUND', 'QUOTA_EXCEEDED', 'INSUFFICIENT_CREDIT', 'SANDBOX_ERROR', 'NOT_IMPLEMENTED'],
  },
  {
    method: 'POST',
    path: '/v1/branches',
    summary: 'A new, independent context from a snapshot (a branch, for merges).',
    auth: true,
    body: 'CreateBranchBody',
    success: [json(201, 'BranchInfo', 'Created.')],
    errors: ['NOT_FOUND', 'QUOTA_EXCEEDED', 'INSUFFICIENT_CREDIT', 'SANDBOX_ERROR', 'NOT_IMPLEMENTED'],
  },
  {
    method: 'POST',
    path: '/v1/branches/merge',
    summary: 'Three-way merge of branches of one snapshot into a new snapshot (memory from the base). Conflicts: 409 MERGE_CONFLICT listing the paths, unless strategy ours/theirs.',
    auth: true,
    body: 'MergeBranchesBody',
    success: [json(201, 'MergeInfo', 'Created.')],
    errors: ['NOT_FOUND', 'MERGE_CONFLICT', 'CONFLICT', 'QUOTA_EXCEEDED', 'SANDBOX_ERROR', 'NOT_IMPLEMENTED'],
  },
];

/** A route on one instance: a JSON answer by its name (200), or the route's own success list. */
const onInstance = (method: HttpMethod, sub: string, summary: string, answer: AnswerName | SuccessDoc[], more: Partial<RouteDoc> = {}): RouteDoc => ({
  method,
  path: `/v1/instances/{id}${sub}`,
  summary,
  auth: true,
  params: instance,
  success: typeof answer === 'string' ? [json(200, answer)] : answer,
  ...more,
  errors: ['NOT_FOUND', ...(more.errors ?? [])],
});

/** What a call acting in the instance's container adds: it is stopped or paused (409), Docker failed (500). */
const inContainer = (more: Partial<RouteDoc> = {}): Partial<RouteDoc> => ({ ...more, errors: ['CONFLICT', 'SANDBOX_ERROR', ...(more.errors ?? [])] });

const INSTANCE_ROUTES: RouteDoc[] = [
  {
    method: 'POST',
    path: '/v1/instances',
    summary: 'Start a persistent instance.',
    auth: true,
    body: 'InstanceStartBody',
    bodyOptional: true,
    success: [json(201, 'InstanceInfo', 'Started.')],
    errors: ['RESOURCE_UNAVAILABLE', 'QUOTA_EXCEEDED', 'INSUFFICIENT_CREDIT', 'NOT_FOUND', 'SANDBOX_ERROR'],
  },
  { method: 'GET', path: '/v1/instances', summary: "This key's instances.", auth: true, success: [json(200, 'InstanceList')], errors: [] },
  onInstance('GET', '', 'An instance: status, expiry, resources, usage.', 'InstanceInfo'),
  onInstance('DELETE', '', 'Stop it and remove everything of it.', 'InstanceInfo', inContainer()),
  onInstance('POST', '/stop', 'Stop it and remove everything of it (as DELETE).', 'InstanceInfo', inContainer()),
  onInstance('POST', '/pause', 'Freeze every process (memory kept, no CPU used).', 'InstanceInfo', inContainer()),
  onInstance('POST', '/resume', 'Continue where it was paused.', 'InstanceInfo', inContainer()),
  onInstance('POST', '/ssh', 'SSH host, port (the operator relays it), username; the private key the first time (or with rotateKey).', 'SshInfo', inContainer({ body: 'SshBody', bodyOptional: true })),
  onInstance('POST', '/expose', "Expose a port on its own host, http://{id}-{name}.<FAAS_EXPOSE_DOMAIN>:<port>/ (HTTP and WebSocket); answers the URL and its token.", 'Exposure', { body: 'ExposeBody', errors: ['CONFLICT'] }),
  onInstance('GET', '/exposures', 'The exposed URLs (without tokens).', 'ExposureList'),
  onInstance('DELETE', '/exposures/{name}', 'Remove an exposed URL.', 'ExposureRemoved', { params: { ...instance, name: z.string().regex(EXPOSE_NAME_PATTERN) } }),
  onInstance('POST', '/exec', 'Run a command in the instance (a string runs under `bash -lc`).', 'InstanceExecResult', inContainer({ body: 'InstanceExecBody' })),
  onInstance('POST', '/files/list', 'The tree under a path: type, size, mtime, mode of each entry.', 'FileList', inContainer({ body: 'FileListBody' })),
  onInstance('POST', '/files/archive', 'A tar (pax) of a path, or of entries under it.', [{ status: 200, description: 'A tar stream.', body: { mediaType: 'application/x-tar', description: 'pax tar' } }], inContainer({ body: 'FileArchiveBody' })),
  onInstance('PUT', '/files', 'Unpack a tar body into the directory `path` (created), modes and times kept.', 'FileUploadResult', inContainer({ query: FileUploadQuerySchema, body: { mediaType: 'application/x-tar', description: 'A tar stream, passed on as it arrives.' } })),
  onInstance('POST', '/files/delete', 'Remove entries under a path.', 'FilesDeleted', inContainer({ body: 'FileDeleteBody' })),
  onInstance('GET', '/tunnel', 'WebSocket: one TCP connection to `port` inside the instance (binary frames); what port forwards use.', [{ status: 101, description: 'Switching to the WebSocket protocol; then binary frames both ways.' }], inContainer({ query: TunnelQuerySchema.omit({ apiKey: true }) })),
  onInstance('POST', '/jupyter', 'Start Jupyter and expose it: `url` opens in a browser as it is.', 'JupyterInfo', inContainer()),
  onInstance('POST', '/vnc', 'Start a VNC desktop with noVNC and expose it.', 'VncInfo', inContainer()),
  onInstance('POST', '/vscode', 'Start a browser VS Code and expose it.', 'VSCodeInfo', inContainer()),
  {
    method: 'GET',
    path: '/i/{id}/{name}/{rest}',
    summary:
      "Any method. Redirects (308) to the exposed port's own host, http://{id}-{name}.<FAAS_EXPOSE_DOMAIN>:<port>/{rest} (query kept), served there (HTTP and WebSocket) for the owner's key or the URL's token (?faas_token=, then a cookie for that host). `rest` may hold further `/`.",
    auth: false,
    params: { ...instance, name: z.string().regex(EXPOSE_NAME_PATTERN), rest: z.string() },
    success: [{ status: 308, description: "Redirect to the exposure's own host." }],
    errors: ['NOT_FOUND'],
    beforeFastify: true,
  },
];

export const ROUTES: RouteDoc[] = [...PUBLIC_ROUTES, ...EXECUTION_ROUTES, ...USAGE_ROUTES, ...SNAPSHOT_ROUTES, ...INSTANCE_ROUTES];
