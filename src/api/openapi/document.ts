// Builds /openapi.json (OpenAPI 3.1) from the route list (./routes.ts) and the zod schemas
// (./components.ts). Error answers come from the one code → HTTP status table
// (HTTP_STATUS_OF_CODE): each route lists, per status, the codes it may answer with.
import { ERROR_CODES, HTTP_STATUS_OF_CODE } from '@faas/sdk/errors';
import type { ErrorCode } from '@faas/sdk/errors';
import { componentSchemas, inlineSchema, ref } from './components.js';
import type { JsonSchema } from './components.js';
import { ROUTES, commonErrors } from './routes.js';
import type { Payload, RouteDoc } from './routes.js';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  components: { schemas: Record<string, JsonSchema>; responses: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, unknown>>;
}

/** A route as fastify registered it: `GET /v1/jobs/:serviceId/:callId`. */
export interface RegisteredRoute {
  method: string;
  url: string;
}

/** Fastify's `/v1/jobs/:serviceId/:callId` as OpenAPI's `/v1/jobs/{serviceId}/{callId}`. */
export const toTemplate = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

/** `GET /v1/executions/{id}` — one operation, as the document and the test name it. */
export const operationKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

/** The path parameters of a template, in order. */
export const pathParams = (path: string): string[] => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);

/** getV1InstancesByIdExposuresByName: unique per method and path. */
function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((seg) => seg.replace(/^\{(\w+)\}$/, 'by-$1'))
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function content(p: Payload<string>): Record<string, unknown> {
  if (typeof p === 'string') return { 'application/json': { schema: { $ref: `#/components/schemas/${p}` } } };
  const schema: JsonSchema = p.name ? { $ref: `#/components/schemas/${p.name}`, description: p.description } : { type: 'string', contentMediaType: p.mediaType, description: p.description };
  return { [p.mediaType]: { schema } };
}

function parameters(r: RouteDoc): unknown[] {
  const out: unknown[] = pathParams(r.path).map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: r.params?.[name] ? inlineSchema(r.params[name]) : { type: 'string', minLength: 1 },
  }));
  if (r.query) {
    const q = inlineSchema(r.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) out.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
  }
  for (const h of r.headers ?? []) out.push({ name: h.name, in: 'header', required: false, description: h.description, schema: inlineSchema(h.schema) });
  return out;
}

/** The route's error codes grouped by their HTTP status (from the shared table). */
export function errorStatuses(r: RouteDoc): Map<number, ErrorCode[]> {
  const codes = ERROR_CODES.filter((c) => commonErrors(r).includes(c) || r.errors.includes(c));
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = HTTP_STATUS_OF_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds until the window reopens (also `resetAt` in the body).', schema: { type: 'integer', minimum: 1 } } };

function responses(r: RouteDoc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of r.success) out[String(s.status)] = { description: s.description, ...(s.body ? { content: content(s.body) } : {}) };
  for (const [status, codes] of errorStatuses(r)) {
    out[String(status)] = {
      description: codes.join(' or '),
      ...(status === 429 ? { headers: RETRY_AFTER } : {}),
      content: { 'application/json': { schema: { allOf: [ref('ErrorBody'), { properties: { code: { enum: codes } } }] } } },
    };
  }
  out.default = { $ref: '#/components/responses/Error' };
  return out;
}

/** Routes grouped by their resource: /v1/<tag>/…; the exposed-port redirects with instances. */
const tagOf = (path: string): string => (path.startsWith('/v1/') ? path.split('/')[2]! : path.startsWith('/i/') ? 'instances' : 'meta');

function operation(r: RouteDoc): Record<string, unknown> {
  const params = parameters(r);
  const upgrade = r.success.some((s) => s.status === 101);
  return {
    operationId: operationId(r.method, r.path),
    summary: r.summary,
    tags: [tagOf(r.path)],
    // WebSocket upgrades may carry the key as ?apiKey= (browsers cannot set headers on them).
    security: r.auth ? (upgrade ? [{ bearer: [] }, { apiKeyQuery: [] }] : [{ bearer: [] }]) : [],
    ...(params.length ? { parameters: params } : {}),
    ...(r.body ? { requestBody: { required: !r.bodyOptional, content: content(r.body) } } : {}),
    responses: responses(r),
    ...(r.websocket ? { 'x-websocket': { clientSends: ref(r.websocket.clientSends), serverSends: ref(r.websocket.serverSends) } } : {}),
  };
}

/**
 * The routes this server serves: with `registered` (what fastify registered), only those, so a
 * gateway without instances or snapshots does not advertise them; without it, all of them.
 */
export function servedRoutes(registered?: readonly RegisteredRoute[]): RouteDoc[] {
  if (!registered) return ROUTES;
  const have = new Set(registered.map((r) => operationKey(r.method, toTemplate(r.url))));
  return ROUTES.filter((r) => have.has(operationKey(r.method, r.path)) || (r.beforeFastify === true && have.has('GET /v1/instances')));
}

export function buildOpenApi(registered?: readonly RegisteredRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const r of servedRoutes(registered)) {
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tangle FaaS operator API',
      version: '1',
      description:
        'Errors are `ErrorBody` with the HTTP status of their `code`; 429 carries `resetAt` and `Retry-After`. Answers may gain fields: clients ignore the ones they do not know. WebSocket routes (101) list their messages under `x-websocket`.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    components: {
      schemas: componentSchemas(),
      responses: { Error: { description: 'Any error: `code` says which (its HTTP status is the one of that code).', content: { 'application/json': { schema: ref('ErrorBody') } } } },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key: npm run operator -- keys create' },
        apiKeyQuery: { type: 'apiKey', in: 'query', name: 'apiKey', description: 'The API key in the URL: taken only on WebSocket upgrades.' },
      },
    },
    paths,
  };
}
