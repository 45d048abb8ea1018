// POST /v1/executions, GET /v1/executions/:id, the stream WebSocket
// /v1/executions/:id/stream, and its plain-HTTP twins for clients without WebSocket: the same
// events as newline-delimited JSON (GET /v1/executions/:id/events) and one stdin / resize /
// kill message per request (POST /v1/executions/:id/input). Thin: parse, call
// ExecutionService, answer.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { FaaSError, RateLimitError, ValidationError, toFaaSError } from '@faas/sdk/errors';
import { ExecuteBodySchema, StreamInputSchema } from '@faas/sdk/wire';
import type { StreamEvent } from '@faas/sdk/wire';
import type { GatewayDeps } from '../deps.js';
import { parseWith } from '../validation.js';

export function registerExecutionRoutes(app: FastifyInstance, g: GatewayDeps): void {
  app.post('/v1/executions', async (req, reply) => {
    const body = parseWith(ExecuteBodySchema, req.body);
    const key = req.apiKey!;
    const idem = req.headers['idempotency-key'];
    if (idem !== undefined && (typeof idem !== 'string' || !/^[\w-]{1,128}$/.test(idem))) throw new ValidationError('idempotency-key', 'expected 1-128 letters, digits, _ or -');
    const ex = g.executions.start(key, g.auth.limitsOf(key), body, idem);
    if (body.wait === false) return reply.status(202).send(ex.info());
    await ex.done;
    if (ex.result) return ex.result;
    // Refused by the engine: its code and status (a 429 with when to come back).
    if (ex.error!.code === 'RATE_LIMIT_EXCEEDED') throw new RateLimitError(new Date(Date.now() + 1000), ex.error!.message);
    throw new FaaSError(ex.error!.code, ex.error!.message);

  });

  app.get<{ Params: { id: string } }>('/v1/executions/:id', (req) => g.executions.get(req.apiKey!, req.params.id).info());

  app.get<{ Params: { id: string } }>(
    '/v1/executions/:id/stream',
    {
      websocket: true,
      // Look it up before the upgrade, so an unknown id is a plain 404.
      preValidation: async (req) => {
        g.executions.get(req.apiKey!, req.params.id);
      },
    },
    (socket, req) => {
      const ex = g.executions.get(req.apiKey!, req.params.id);
      socket.on('message', (raw) => {
        let msg: unknown;
        try {
          msg = JSON.parse(raw.toString());
        } catch {
          msg = undefined;
        }
        const r = StreamInputSchema.safeParse(msg);
        if (!r.success) {
          const err = new ValidationError('message', 'expected {type: "stdin"|"stdin_close"|"resize"|"kill", ...}');
          socket.send(JSON.stringify({ type: 'error', error: { code: err.code, message: err.message } } satisfies StreamEvent));
          return;
        }
        try {
          ex.input(r.data);
        } catch (err) {
          // Over the stdin quota: this client is told (typed); the execution goes on.
          const e = toFaaSError(err);
          socket.send(JSON.stringify({ type: 'error', error: { code: e.code, message: e.message } } satisfies StreamEvent));
        }
      });
      const unsubscribe = ex.subscribe((e) => {
        socket.send(JSON.stringify(e));
        if (e.type === 'complete' || (e.type === 'error' && e.error)) socket.close(1000, 'done');
      });
      socket.on('close', unsubscribe); // the execution goes on without its viewer
    },
  );

  // The same replay + live events as the WebSocket, one JSON object per line; the answer ends
  // after `complete` (or a failure). An empty line every HEARTBEAT_MS keeps a quiet program's
  // stream from looking dead to the client's read timeout. Unknown / another key's id: 404.
  app.get<{ Params: { id: string } }>('/v1/executions/:id/events', (req, reply) => {
    const ex = g.executions.get(req.apiKey!, req.params.id);
    const out = new PassThrough();
    let ended = false;
    const heartbeat = setInterval(() => out.write('\n'), HEARTBEAT_MS);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      out.end();
    };
    // The last event is the execution's last one: no unsubscribing needed then (it drops its listeners).
    const unsubscribe = ex.subscribe((e) => {
      if (ended) return;
      out.write(`${JSON.stringify(e)}\n`);
      if (e.type === 'complete' || (e.type === 'error' && e.error)) end();
    });
    reply.raw.on('close', () => {
      unsubscribe(); // the client left: the execution goes on without it
      end();
    });
    return reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('cache-control', 'no-cache').send(out);
  });

  app.post<{ Params: { id: string } }>('/v1/executions/:id/input', (req) => {
    const ex = g.executions.get(req.apiKey!, req.params.id);
    ex.input(parseWith(StreamInputSchema, req.body));
    return { executionId: ex.id, status: ex.status };
  });
}

/** How often an idle events stream gets an empty line. */
const HEARTBEAT_MS = 15_000;
