// Routes of features this gateway cannot serve (instances until that mode lands; snapshots and
// branches on a stand-in engine without them): answered with NOT_IMPLEMENTED, so clients get a
// clear, typed answer rather than a 404 or a fake success.
import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '../../errors.js';

export const UNAVAILABLE_ROUTES: Array<[method: 'GET' | 'POST' | 'DELETE', path: string, feature: string]> = [
  ['POST', '/v1/snapshots', 'Snapshots (checkpointed mode)'],
  ['GET', '/v1/snapshots', 'Snapshots (checkpointed mode)'],
  ['GET', '/v1/snapshots/:id', 'Snapshots (checkpointed mode)'],
  ['DELETE', '/v1/snapshots/:id', 'Snapshots (checkpointed mode)'],
  ['POST', '/v1/snapshots/:id/restore', 'Snapshot restore (checkpointed mode)'],
  ['POST', '/v1/branches', 'Branches (branched mode)'],
  ['POST', '/v1/branches/merge', 'Branch merges (branched mode)'],
  ['POST', '/v1/instances', 'Persistent instances'],
  ['GET', '/v1/instances', 'Persistent instances'],
  ['GET', '/v1/instances/:id', 'Persistent instances'],
  ['POST', '/v1/instances/:id/:action', 'Persistent instances'],
  ['DELETE', '/v1/instances/:id', 'Persistent instances'],
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
