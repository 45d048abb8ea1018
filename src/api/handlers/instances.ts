// /v1/instances: start, get, list, stop, pause, resume, SSH info, exposed URLs, commands,
// files (tar in and out), the port-forward tunnel (WebSocket), and the Jupyter / VNC / VS Code
// launchers. Thin: parse, call InstanceService, answer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createWebSocketStream } from 'ws';
import type { Readable } from 'node:stream';
import { ValidationError } from '@faas/sdk/errors';
import {
  ExposeBodySchema,
  FileArchiveBodySchema,
  FileDeleteBodySchema,
  FileListBodySchema,
  FileUploadQuerySchema,
  InstanceExecBodySchema,
  InstanceStartBodySchema,
  SshBodySchema,
  TunnelQuerySchema,
} from '@faas/sdk/wire';
import type { GatewayDeps } from '../deps.js';
import type { InstanceService } from '../services/index.js';
import { parseWith } from '../validation.js';

type IdParams = { Params: { id: string } };

/** The gateway as the caller reached it: the base of exposed URLs and the SSH host. */
const baseOf = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
const hostOf = (req: FastifyRequest) => req.hostname.replace(/^\[|\]$/g, '');

export function registerInstanceRoutes(app: FastifyInstance, g: GatewayDeps & { instances: InstanceService }): void {
  const s = g.instances;
  // File uploads are tar streams, passed on as they arrive (never buffered whole).
  app.addContentTypeParser('application/x-tar', (_req, payload, done) => done(null, payload));

  app.post('/v1/instances', async (req, reply) => reply.status(201).send(await s.start(req.apiKey!, parseWith(InstanceStartBodySchema, req.body ?? {}))));
  app.get('/v1/instances', (req) => s.list(req.apiKey!));
  app.get<IdParams>('/v1/instances/:id', (req) => s.get(req.apiKey!, req.params.id));
  app.delete<IdParams>('/v1/instances/:id', (req) => s.stop(req.apiKey!, req.params.id));
  app.post<IdParams>('/v1/instances/:id/stop', (req) => s.stop(req.apiKey!, req.params.id));
  app.post<IdParams>('/v1/instances/:id/pause', (req) => s.pause(req.apiKey!, req.params.id));
  app.post<IdParams>('/v1/instances/:id/resume', (req) => s.resume(req.apiKey!, req.params.id));
  app.post<IdParams>('/v1/instances/:id/ssh', (req) => s.ssh(req.apiKey!, req.params.id, parseWith(SshBodySchema, req.body ?? {}), hostOf(req)));

  app.post<IdParams>('/v1/instances/:id/expose', (req) => s.expose(req.apiKey!, req.params.id, parseWith(ExposeBodySchema, req.body), baseOf(req)));
  app.get<IdParams>('/v1/instances/:id/exposures', (req) => s.exposures(req.apiKey!, req.params.id, baseOf(req)));
  app.delete<{ Params: { id: string; name: string } }>('/v1/instances/:id/exposures/:name', (req) => s.unexpose(req.apiKey!, req.params.id, req.params.name));

  app.post<IdParams>('/v1/instances/:id/jupyter', (req) => s.launchJupyter(req.apiKey!, req.params.id, baseOf(req)));
  app.post<IdParams>('/v1/instances/:id/vnc', (req) => s.launchVNC(req.apiKey!, req.params.id, baseOf(req)));
  app.post<IdParams>('/v1/instances/:id/vscode', (req) => s.launchVSCode(req.apiKey!, req.params.id, baseOf(req)));

  app.post<IdParams>('/v1/instances/:id/exec', (req) => s.exec(req.apiKey!, req.params.id, parseWith(InstanceExecBodySchema, req.body)));

  app.post<IdParams>('/v1/instances/:id/files/list', (req) => s.listFiles(req.apiKey!, req.params.id, parseWith(FileListBodySchema, req.body).path));
  app.post<IdParams>('/v1/instances/:id/files/archive', async (req, reply) => {
    const body = parseWith(FileArchiveBodySchema, req.body);
    const tar = await s.archive(req.apiKey!, req.params.id, body.path, body.entries);
    return reply.type('application/x-tar').send(tar);
  });
  app.post<IdParams>('/v1/instances/:id/files/delete', (req) => {
    const body = parseWith(FileDeleteBodySchema, req.body);
    return s.deleteFiles(req.apiKey!, req.params.id, body.path, body.entries);
  });
  app.put<IdParams>('/v1/instances/:id/files', (req) => {
    const q = parseWith(FileUploadQuerySchema, Object.fromEntries(Object.entries(req.query as Record<string, string>).filter(([k]) => k !== 'apiKey')));
    if (req.headers['content-type'] !== 'application/x-tar') throw new ValidationError('content-type', 'send the files as application/x-tar');
    return s.upload(req.apiKey!, req.params.id, q.path, req.body as Readable);
  });

  app.get<IdParams & { Querystring: Record<string, string> }>(
    '/v1/instances/:id/tunnel',
    {
      websocket: true,
      // Checked before the upgrade, so an unknown instance or a bad port is a plain 404 / 400.
      preValidation: async (req) => {
        s.get(req.apiKey!, req.params.id);
        parseWith(TunnelQuerySchema, req.query);
      },
    },
    (socket, req) => {
      const { port } = parseWith(TunnelQuerySchema, req.query);
      socket.pause();
      s.tunnel(req.apiKey!, req.params.id, port).then(
        (ch) => {
          const ws = createWebSocketStream(socket);
          ws.on('error', () => ch.destroy());
          ch.on('error', (err: Error) => {
            if (socket.readyState === socket.OPEN) socket.close(1011, err.message.slice(0, 120));
          });
          ch.on('close', () => ws.destroy());
          ws.on('close', () => ch.destroy());
          ws.pipe(ch);
          ch.pipe(ws);
          socket.resume();
        },
        (err: Error) => socket.close(1011, err.message.slice(0, 120)),
      );
    },
  );
}
