// Snapshot and branch routes on a gateway whose engine has no snapshots (a stand-in engine):
// answered with NOT_IMPLEMENTED, so clients get a clear, typed answer rather than a 404.
import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '@faas/sdk/errors';

export const UNAVAILABLE_ROUTES: Array<[method: 'GET' | 'POST' | 'DELETE', path: string, feature: string]> = [
  ['POST', '/v1/snapshots', 'Snapshots (checkpointed mode)'],
  ['GET', '/v1/snapshots', 'Snapshots (checkpointed mode)'],
  ['GET', '/v1/snapshots/:id', 'Snapshots (checkpointed mode)'],
  ['DELETE', '/v1/snapshots/:id', 'Snapshots (checkpointed mode)'],
  ['POST', '/v1/snapshots/:id/restore', 'Snapshot restore (checkpointed mode)'],
  ['POST', '/v1/branches', 'Branches (branched mode)'],
  ['POST', '/v1/branches/merge', 'Branch merges (branched mode)'],
];

/** Registers the routes `keep` accepts (those no real handler serves on this gateway). */
export function registerUnavailableRoutes(app: FastifyInstance, keep: (path: string) => boolean = () => true): void {
  for (const [method, url, feature] of UNAVAILABLE_ROUTES) {
    if (!keep(url)) continue;
    app.route({
      method,
      url,
      handler: () => {
        throw new NotImplementedError(feature);
      },
    });
  }
}
