// Exposed ports of persistent instances, HTTP and WebSocket, each on a host name of its own:
// `<instance id>-<name>.<FAAS_EXPOSE_DOMAIN>` (routed by the Host header), so each is its own
// origin. `/i/<instance id>/<name>/…` on the gateway's host only redirects there (it never
// serves an app on the gateway's origin; WebSocket upgrades there get 404). These requests
// are taken off the HTTP server before fastify routes them: a proxy needs the raw request (any
// method, any body, any upgrade protocol) and its own credentials (the owner's key or the URL's
// token), not the API's JSON handling, rate limits or WebSocket termination. Thin: parse the
// host (or path), authenticate, call InstanceService.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, toFaaSError } from '@faas/sdk/errors';
import type { ApiKey } from '../../store/index.js';
import type { GatewayDeps } from '../deps.js';
import type { InstanceService } from '../services/index.js';
import { parseExposureHost } from '../proxy.js';

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

  const exposed = (req: IncomingMessage) => parseExposureHost(req.headers.host, s.exposeDomain);

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    try {
      const host = exposed(req);
      if (host) {
        const target = s.authorizeProxy(req, keyOf(req), host.id, host.name, req.url ?? '/');
        s.proxyHttp(req, res, target);
        return;
      }
      const p = parse(req.url ?? '');
      if (!p) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND', message: `Exposed URLs look like http://<instance id>-<name>.${s.exposeDomain}/` }));
        return;
      }
      // The old path form only redirects to the exposure's own host (query, token included):
      // nothing of the app is ever served on the gateway's origin.
      const base = `http://${req.headers.host ?? '127.0.0.1'}`;
      res.writeHead(308, { location: `${s.url(base, p.id, p.name)}${(p.rest ?? '/').slice(1)}${p.query}` }).end();
    } catch (err) {
      const e = toFaaSError(err);
      if (!res.headersSent) res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.toJSON()));
      else res.destroy();
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const host = exposed(req);
      if (!host) throw new NotFoundError('exposed URL', `${req.url ?? ''} (WebSockets of exposed ports are on their own host: http://<instance id>-<name>.${s.exposeDomain}/)`);
      const target = s.authorizeProxy(req, keyOf(req), host.id, host.name, req.url ?? '/');
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
      if (isProxyPath(req.url) || exposed(req)) (mine as (...a: unknown[]) => void)(req, ...rest);
      else for (const l of others) l.call(server, req, ...rest);
    });
  }
  app.addHook('onClose', async () => s.closeConnections());
}
