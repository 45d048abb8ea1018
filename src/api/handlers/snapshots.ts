// /v1/snapshots and /v1/branches: thin over SnapshotService.
import type { FastifyInstance } from 'fastify';
import { CreateBranchBodySchema, CreateSnapshotBodySchema, MergeBranchesBodySchema } from '@faas/sdk/wire';
import type { SnapshotService } from '../services/index.js';
import { parseWith } from '../validation.js';

export function registerSnapshotRoutes(app: FastifyInstance, snapshots: SnapshotService): void {
  app.post('/v1/snapshots', async (req, reply) => {
    const body = parseWith(CreateSnapshotBodySchema, req.body);
    return reply.status(201).send(await snapshots.create(req.apiKey!, body.executionId));
  });
  app.get('/v1/snapshots', (req) => snapshots.list(req.apiKey!));
  app.get<{ Params: { id: string } }>('/v1/snapshots/:id', (req) => snapshots.get(req.apiKey!, req.params.id));
  app.delete<{ Params: { id: string } }>('/v1/snapshots/:id', async (req) => {
    await snapshots.delete(req.apiKey!, req.params.id);
    return { id: req.params.id, deleted: true };
  });
  app.post<{ Params: { id: string } }>('/v1/snapshots/:id/restore', async (req, reply) => reply.status(201).send(await snapshots.restore(req.apiKey!, req.params.id)));
  app.post('/v1/branches', async (req, reply) => {
    const body = parseWith(CreateBranchBodySchema, req.body);
    return reply.status(201).send(await snapshots.branch(req.apiKey!, body.snapshotId));
  });
  app.post('/v1/branches/merge', async (req, reply) => {
    const body = parseWith(MergeBranchesBodySchema, req.body);
    return reply.status(201).send(await snapshots.merge(req.apiKey!, body.branchIds, body.strategy));
  });
}
