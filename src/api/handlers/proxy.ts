// /i/<instance id>/<name>/… — exposed ports of persistent instances, HTTP and WebSocket, on the
// gateway's own address. These requests are taken off the HTTP server before fastify routes
// them: a proxy needs the raw request (any method, any body, any upgrade protocol) and its
// own credentials (the owner's key or the URL's token), not the API's JSON handling, rate
// limits or WebSocket termination. Thin: parse the path, authenticate, call InstanceService.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, toFaaSError } from '../../errors.js';
import type { ApiKey } from '../../store/index.js';
import type { GatewayDeps } from '../server.js';
import type { InstanceService } from '../services/index.js';

const PATH = /^\/i\/(inst-[0-9a-f]{16})\/([a-z0-9][a-z0-9-]{0,31})(\/[^?]*)?(\?.*)?$/;

export const isProxyPath = (url: string | undefined): boolean => Boolean(url?.startsWith('/i/'));

function parse(url: string): { id: string; name: string; rest: string | null; query: string } | null {
  const m = PATH.exec(url);
  if (!m) return null;
  return { id: m[1]!, name: m[2]!, rest: m[3] ?? null, query: m[4] ?? '' };
}

export function registerProxyRoutes(app: FastifyInstance, g: GatewayDeps & { instances: InstanceService }): void {
  const s = g.instances;
  const server = app.server;

  const keyOf = (req: IncomingMessage): ApiKey | null => (req.headers.authorization ? g.auth.authenticate(req.headers.authorization, undefined) : null);

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    try {
      const p = parse(req.url ?? '');
      if (!p) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND', message: 'Exposed URLs look like /i/<instance id>/<name>/' }));
        return;
      }
      if (p.rest === null) {
        // The app's relative links need the trailing slash.
        res.writeHead(308, { location: `/i/${p.id}/${p.name}/${p.query}` }).end();
        return;
      }
      const target = s.authorizeProxy(req, keyOf(req), p.id, p.name, p.rest + p.query);
      s.proxyHttp(req, res, target);
    } catch (err) {
      const e = toFaaSError(err);
      if (!res.headersSent) res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.toJSON()));
      else res.destroy();
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const p = parse(req.url ?? '');
      if (!p || p.rest === null) throw new NotFoundError('exposed URL', req.url ?? '');
      const target = s.authorizeProxy(req, keyOf(req), p.id, p.name, p.rest + p.query);
      void s.proxyUpgrade(req, socket, head, target);
    } catch (err) {
      const e = toFaaSError(err);
      const body = JSON.stringify(e.toJSON());
      socket.end(`HTTP/1.1 ${e.status} ${e.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
  };

  // Take /i/ requests and upgrades before fastify and its WebSocket plugin see them.
  for (const [event, mine] of [
    ['request', onRequest],
    ['upgrade', onUpgrade],
  ] as const) {
    const others = server.listeners(event) as Array<(...args: unknown[]) => void>;
    server.removeAllListeners(event);
    server.on(event, (req: IncomingMessage, ...rest: unknown[]) => {
      if (isProxyPath(req.url)) (mine as (...a: unknown[]) => void)(req, ...rest);
      else for (const l of others) l.call(server, req, ...rest);
    });
  }
  app.addHook('onClose', async () => s.closeConnections());
}
