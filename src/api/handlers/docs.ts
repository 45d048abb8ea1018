// GET /openapi.json (generated from the zod schemas that also validate the requests) and
// GET /docs, the same routes as a readable page.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  BranchInfoSchema,
  CreateBranchBodySchema,
  CreateSnapshotBodySchema,
  CurrentUsageSchema,
  ErrorBodySchema,
  ExecuteBodySchema,
  ExecutionInfoSchema,
  ExecutionInputAnswerSchema,
  ExecutionResultSchema,
  MergeBranchesBodySchema,
  MergeInfoSchema,
  MetricsQuerySchema,
  RestoreInfoSchema,
  SnapshotInfoSchema,
  SnapshotListSchema,
  StreamEventSchema,
  StreamInputSchema,
  UsageMetricsSchema,
} from '@faas/sdk/wire';
import { INSTANCE_ROUTE_DOCS } from './instances.js';
import { UNAVAILABLE_ROUTES } from './unavailable.js';

interface RouteDoc {
  method: string;
  path: string;
  summary: string;
  auth: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  response?: z.ZodType;
  /** The response's media type, when not JSON (each line of application/x-ndjson is one `response`). */
  responseType?: string;
}

const ROUTES: RouteDoc[] = [
  { method: 'POST', path: '/v1/executions', summary: 'Run code. Answers the result (200), or at once with the execution id when `wait` is false (202).', auth: true, body: ExecuteBodySchema, response: ExecutionResultSchema },
  { method: 'GET', path: '/v1/executions/{id}', summary: 'An execution of this key: status, and the result once completed.', auth: true, response: ExecutionInfoSchema },
  { method: 'GET', path: '/v1/executions/{id}/stream', summary: 'WebSocket. Server sends output / error / progress / complete events (replaying what was already printed); client sends stdin, stdin_close, resize, kill.', auth: true, body: StreamInputSchema, response: StreamEventSchema },
  { method: 'GET', path: '/v1/executions/{id}/events', summary: 'The stream\'s events over plain HTTP, for clients without WebSocket: newline-delimited JSON (application/x-ndjson), one event per line, the replay first; the answer ends after complete (or a failure event). Empty lines are heartbeats.', auth: true, response: StreamEventSchema, responseType: 'application/x-ndjson' },
  { method: 'POST', path: '/v1/executions/{id}/input', summary: 'One stream message over plain HTTP: stdin, stdin_close, resize or kill (held until the program runs; ignored once it ended). Answers {executionId, status}.', auth: true, body: StreamInputSchema, response: ExecutionInputAnswerSchema },
  { method: 'GET', path: '/v1/usage/current', summary: "This key's totals, credit, balance, rate limit and running executions.", auth: true, response: CurrentUsageSchema },
  { method: 'GET', path: '/v1/usage/metrics', summary: "This key's totals over a period (default: the last 30 days), per UTC day.", auth: true, query: MetricsQuerySchema, response: UsageMetricsSchema },
  { method: 'GET', path: '/v1/outputs/{hash}', summary: 'The full output of a chain job by its output hash (public).', auth: false },
  { method: 'GET', path: '/v1/health', summary: 'Liveness.', auth: false },
  { method: 'POST', path: '/v1/snapshots', summary: "Snapshot a stateful context (an execution of mode checkpointed, branched or persistent): its files and, for python, its interpreter memory.", auth: true, body: CreateSnapshotBodySchema, response: SnapshotInfoSchema },
  { method: 'GET', path: '/v1/snapshots', summary: "This key's snapshots.", auth: true, response: SnapshotListSchema },
  { method: 'GET', path: '/v1/snapshots/{id}', summary: 'One snapshot.', auth: true, response: SnapshotInfoSchema },
  { method: 'DELETE', path: '/v1/snapshots/{id}', summary: 'Delete a snapshot; its stored files are freed when no other snapshot shares them.', auth: true },
  { method: 'POST', path: '/v1/snapshots/{id}/restore', summary: 'A new context with the snapshot\'s files and memory; run code in it with its executionId.', auth: true, response: RestoreInfoSchema },
  { method: 'POST', path: '/v1/branches', summary: 'A new, independent context from a snapshot (a branch, for merges).', auth: true, body: CreateBranchBodySchema, response: BranchInfoSchema },
  { method: 'POST', path: '/v1/branches/merge', summary: 'Three-way merge of branches of one snapshot into a new snapshot (memory from the base). Conflicts: 409 MERGE_CONFLICT listing the paths, unless strategy ours/theirs.', auth: true, body: MergeBranchesBodySchema, response: MergeInfoSchema },
  ...INSTANCE_ROUTE_DOCS.map((r) => ({ ...r, auth: true })),
  { method: 'GET', path: '/i/{id}/{name}/...', summary: 'Redirects (308) to the exposed port\'s own host, http://{id}-{name}.<FAAS_EXPOSE_DOMAIN>:<port>/, where it is served (HTTP and WebSocket) for the owner\'s key or the URL\'s token (?faas_token=, then a cookie for that host).', auth: false },
  ...UNAVAILABLE_ROUTES.filter(([, path]) => !/^\/v1\/(snapshots|branches)/.test(path)).map(([method, path, feature]) => ({ method, path: path.replace(/:(\w+)/g, '{$1}'), summary: `${feature}: answers 501 NOT_IMPLEMENTED on this operator for now.`, auth: true })),
];

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

function openApi(): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const errors = { default: { description: 'Error', content: { 'application/json': { schema: schema(ErrorBodySchema) } } } };
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.auth ? { security: [{ bearer: [] }] } : {}),
      ...(r.body ? { requestBody: { content: { 'application/json': { schema: schema(r.body) } } } } : {}),
      ...(r.query ? { parameters: Object.keys((r.query as z.ZodObject).shape).map((name) => ({ name, in: 'query', schema: { type: 'string' } })) } : {}),
      responses: { 200: { description: 'OK', ...(r.response ? { content: { [r.responseType ?? 'application/json']: { schema: schema(r.response) } } } : {}) }, ...errors },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Tangle FaaS operator API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key: npm run operator -- keys create' } } },
    paths,
  };
}

const escape = (s: string) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

function page(): string {
  const rows = ROUTES.map(
    (r) =>
      `<h3><code>${r.method} ${escape(r.path)}</code>${r.auth ? '' : ' <small>(no key)</small>'}</h3><p>${escape(r.summary)}</p>` +
      (r.body ? `<details><summary>request</summary><pre>${escape(JSON.stringify(schema(r.body), null, 2))}</pre></details>` : '') +
      (r.response ? `<details><summary>response</summary><pre>${escape(JSON.stringify(schema(r.response), null, 2))}</pre></details>` : ''),
  ).join('\n');
  return `<!doctype html><meta charset="utf-8"><title>Tangle FaaS API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}</style>
<h1>Tangle FaaS operator API</h1>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{code, message, field?, resetAt?}</code> with the HTTP status of their code; 429 carries <code>resetAt</code> and <code>Retry-After</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${rows}`;
}

export function registerDocRoutes(app: FastifyInstance): void {
  const doc = openApi();
  const html = page();
  app.get('/openapi.json', () => doc);
  app.get('/docs', (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
}
