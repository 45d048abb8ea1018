// The operator's HTTP (and WebSocket) API, served by the operator process. Handlers are thin:
// they parse, call a service passed in through `ApiDeps`, and answer; every failure leaves as
// a FaaSError body `{code, message, field?}` with the status from the one shared code table.
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { FaaSError, ValidationError, toFaaSError } from '../errors.js';
import type { FullOutput } from '../store/index.js';
import { registerOutputRoutes } from './handlers/outputs.js';

export interface ApiDeps {
  log: Logger;
  /** Full outputs of chain jobs by output hash (the chain may hold a cut copy). */
  outputs: { output(hash: string): FullOutput | null };
}

export interface ApiOptions {
  host?: string;
  port?: number;
  /** Largest request body accepted, bytes. */
  bodyLimit?: number;
}

export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Fastify's own errors (bad JSON, body too large...) as our codes. */
function fromFastify(err: FastifyError, bodyLimit: number): FaaSError {
  if (err instanceof FaaSError) return err;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ValidationError('body', `larger than the ${bodyLimit} bytes this operator accepts`);
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ValidationError('content-type', 'send application/json');
  if (err.statusCode === 400) return new ValidationError('body', err.message);
  return toFaaSError(err);
}

export async function startApiServer(deps: ApiDeps, opts: ApiOptions = {}): Promise<ApiServer> {
  const bodyLimit = opts.bodyLimit ?? 64 << 20;
  const app = Fastify({ bodyLimit, logger: false });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e = fromFastify(err, bodyLimit);
    if (e.code === 'INTERNAL_ERROR') deps.log.error({ err: err.message }, 'API request failed');
    void reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}; see /openapi.json.` });
  });
  app.get('/v1/health', () => ({ ok: true }));
  registerOutputRoutes(app, deps);
  const address = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8080 });
  return { url: address, app, close: () => app.close() };
}
