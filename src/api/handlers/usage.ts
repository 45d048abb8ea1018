// GET /v1/usage/current and /v1/usage/metrics.
import type { FastifyInstance } from 'fastify';
import { MetricsQuerySchema } from '@faas/sdk/wire';
import type { GatewayDeps } from '../deps.js';
import { parseWith } from '../validation.js';

export function registerUsageRoutes(app: FastifyInstance, g: GatewayDeps): void {
  app.get('/v1/usage/current', (req) => g.usage.current(req.apiKey!, g.auth.limitsOf(req.apiKey!)));
  app.get('/v1/usage/metrics', (req) => g.usage.metrics(req.apiKey!, parseWith(MetricsQuerySchema, req.query ?? {})));
}
