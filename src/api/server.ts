// The operator's HTTP (and WebSocket) API, served by the operator process. Handlers are thin:
// they parse, call a service passed in through the deps, and answer; every failure leaves as
// a FaaSError body `{code, message, field?, resetAt?}` with the status from the one shared
// code table (sdk/typescript/src/errors.ts), which the SDKs read the same way.
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, FaaSError, RateLimitError, ShuttingDownError, ValidationError, toFaaSError } from '@faas/sdk/errors';
import type { ApiKey } from '../store/index.js';
import { registerDocRoutes } from './handlers/docs.js';
import type { RegisteredRoute } from './openapi/document.js';
import { registerExecutionRoutes } from './handlers/executions.js';
import { registerInstanceRoutes } from './handlers/instances.js';
import { registerOutputRoutes } from './handlers/outputs.js';
import { registerProxyRoutes } from './handlers/proxy.js';
import { registerSnapshotRoutes } from './handlers/snapshots.js';
import { registerUnavailableRoutes } from './handlers/unavailable.js';
import { registerUsageRoutes } from './handlers/usage.js';
import { RateLimiter } from './services/index.js';
import type { ApiDeps } from './deps.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

export interface ApiOptions {
  host?: string;
  port?: number;
  /** Largest request body accepted, bytes. */
  bodyLimit?: number;
  /** A request unanswered after this long is cut off. */
  requestTimeoutMs?: number;
}

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  app: FastifyInstance;
  /** Every route fastify registered (as its onRoute hook reported them): what /openapi.json describes. */
  routes: readonly RegisteredRoute[];
  close(): Promise<void>;
}

/** Routes anyone may call: health, docs, and outputs (whose hashes are public on-chain). */
const PUBLIC = /^\/(v1\/health|v1\/outputs\/|v1\/jobs\/|openapi\.json|docs)/;
/** Public routes that read the database: limited per client IP. */
const PUBLIC_LIMITED = /^\/v1\/(outputs|jobs)\//;

/** A request's URL with its query's values blanked (`?apiKey=…`, tokens): what logs may show. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  return `${url.slice(0, q)}?${url
    .slice(q + 1)
    .split('&')
    .map((kv) => `${kv.split('=')[0]}=[redacted]`)
    .join('&')}`;
}

/** Fastify's request log line, without the query's values and without headers. */
const requestSerializer = (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip });

/** `?apiKey=` is taken only where a client cannot send a header: a WebSocket upgrade. */
const isUpgrade = (req: FastifyRequest) => req.headers.upgrade?.toLowerCase() === 'websocket';

/** Fastify's own errors (bad JSON, body too large...) as our codes. */
function fromFastify(err: FastifyError, bodyLimit: number): FaaSError {
  if (err instanceof FaaSError) return err;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ValidationError('body', `larger than the ${bodyLimit} bytes this operator accepts`);
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ValidationError('content-type', 'send application/json');
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ValidationError('body', 'expected a JSON object');
  if (err.statusCode === 400) return new ValidationError('body', `not valid JSON (${err.message})`);
  return toFaaSError(err);
}

export async function startApiServer(deps: ApiDeps, opts: ApiOptions = {}): Promise<ApiServer> {
  const bodyLimit = opts.bodyLimit ?? 64 << 20;
  // While closing, a request on a kept-alive connection is answered SHUTTING_DOWN (our code, so
  // clients know nothing ran and may resend it) rather than fastify's bare 503.
  // Requests are logged (at info) with their query's values blanked: an `?apiKey=` never reaches a log.
  const logger = deps.log.child({}, { serializers: { req: requestSerializer } });
  const app = Fastify({ bodyLimit, loggerInstance: logger as FastifyBaseLogger, requestTimeout: opts.requestTimeoutMs ?? 330_000, return503OnClosing: false });
  // Before any route: /openapi.json describes exactly the routes registered below.
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (closing) {
      void reply.header('connection', 'close');
      throw new ShuttingDownError();
    }
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e = fromFastify(err, bodyLimit);
    if (e.code === 'INTERNAL_ERROR') deps.log.error({ err: err.message }, 'API request failed');
    if (e instanceof RateLimitError) void reply.header('retry-after', String(Math.max(1, Math.ceil((e.resetAt.getTime() - Date.now()) / 1000))));
    void reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}; see /openapi.json.` });
  });
  await app.register(websocket, { options: { maxPayload: 1 << 20 } });

  const g = deps.gateway;
  const publicLimit = g?.publicRateLimit;
  if (publicLimit) {
    // Public routes read the database for anyone: a per-IP window keeps one client from flooding it.
    const perIp = new RateLimiter();
    const limits = { ...publicLimit, concurrent: 1 };
    app.addHook('onRequest', async (req, reply) => {
      if (!PUBLIC_LIMITED.test(req.url)) return;
      const s = perIp.hit(`ip:${req.ip}`, limits);
      void reply.header('x-ratelimit-limit', String(s.limit));
      void reply.header('x-ratelimit-remaining', String(s.remaining));
      void reply.header('x-ratelimit-reset', s.resetAt.toISOString());
    });
  }
  if (g) {
    // Every non-public call: a live key, counted against its window.
    app.addHook('onRequest', async (req, reply) => {
      if (PUBLIC.test(req.url)) return;
      const fromQuery = (req.query as { apiKey?: string } | undefined)?.apiKey;
      if (fromQuery !== undefined && !isUpgrade(req)) {
        throw new AuthError('An API key in the URL (?apiKey=) is taken only on WebSocket upgrades: send `Authorization: Bearer <key>`.');
      }
      const key = g.auth.authenticate(req.headers.authorization, fromQuery);
      req.apiKey = key;
      const s = g.limiter.hit(key.id, g.auth.limitsOf(key));
      void reply.header('x-ratelimit-limit', String(s.limit));
      void reply.header('x-ratelimit-remaining', String(s.remaining));
      void reply.header('x-ratelimit-reset', s.resetAt.toISOString());
    });
  }

  app.get('/v1/health', () => ({ ok: true }));
  registerOutputRoutes(app, deps);
  registerDocRoutes(app, routes);
  if (g) {
    registerExecutionRoutes(app, g);
    registerUsageRoutes(app, g);
    if (g.snapshots) registerSnapshotRoutes(app, g.snapshots);
    registerUnavailableRoutes(app, g.snapshots ? (path) => !/^\/v1\/(snapshots|branches)/.test(path) : () => true);
    if (g.instances) {
      registerInstanceRoutes(app, { ...g, instances: g.instances });
      registerProxyRoutes(app, { ...g, instances: g.instances });
    }
  }
  const address = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8080 });
  return { url: address, app, routes, close: () => app.close() };
}
