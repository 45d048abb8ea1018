// GET /v1/outputs/:hash — the full output of a chain job whose on-chain copy was cut. Public
// (no key): the hash is on-chain for anyone, and the caller checks the output against it.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '@faas/sdk/errors';
import type { ApiDeps } from '../deps.js';

const HASH = /^0x[0-9a-f]{64}$/;

export function registerOutputRoutes(app: FastifyInstance, deps: ApiDeps): void {
  // GET /v1/jobs/:serviceId/:callId — where a chain job stands with this operator (received,
  // executed, submitted): what TangleFaaSClient reports as 'executing'. Public like the chain.
  app.get<{ Params: { serviceId: string; callId: string } }>('/v1/jobs/:serviceId/:callId', (req) => {
    const { serviceId, callId } = req.params;
    if (!/^\d{1,20}$/.test(serviceId)) throw new ValidationError('serviceId', 'expected a whole number');
    if (!/^\d{1,20}$/.test(callId)) throw new ValidationError('callId', 'expected a whole number');
    const job = deps.outputs.get?.(BigInt(serviceId), BigInt(callId));
    if (!job) throw new NotFoundError('job', `${serviceId}/${callId}`);
    return { serviceId, callId, status: job.status };
  });

  app.get<{ Params: { hash: string } }>('/v1/outputs/:hash', (req) => {
    const hash = req.params.hash.toLowerCase();
    if (!HASH.test(hash)) throw new ValidationError('hash', 'expected 0x and 64 hex digits (the output hash of a job result)');
    const out = deps.outputs.output(hash);
    if (!out) throw new NotFoundError('output', hash);
    return out;
  });
}
