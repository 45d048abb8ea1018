// GET /v1/outputs/:hash — the full output of a chain job whose on-chain copy was cut. Public
// (no key): the hash is on-chain for anyone, and the caller checks the output against it.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { ApiDeps } from '../server.js';

const HASH = /^0x[0-9a-f]{64}$/;

export function registerOutputRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Params: { hash: string } }>('/v1/outputs/:hash', (req) => {
    const hash = req.params.hash.toLowerCase();
    if (!HASH.test(hash)) throw new ValidationError('hash', 'expected 0x and 64 hex digits (the output hash of a job result)');
    const out = deps.outputs.output(hash);
    if (!out) throw new NotFoundError('output', hash);
    return out;
  });
}
