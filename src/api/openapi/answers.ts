// Zod schemas of the answers whose handlers build them inline (no wire schema of their own in
// ../schemas.ts yet), so /openapi.json can describe every route. Each is tied to the type the
// handler or service really returns: a change on either side fails the type check here.
import { z } from 'zod';
import type { FullOutput, JobStatus } from '../../store/index.js';
import { ExposureSchema } from '@faas/sdk/wire';
import type { InstanceService, SnapshotService } from '../services/index.js';

/** GET /v1/health */
export const HealthSchema = z.object({ ok: z.literal(true) });

const JOB_STATUSES = ['received', 'executed', 'submitted'] as const satisfies readonly JobStatus[];

/** GET /v1/jobs/:serviceId/:callId: where a chain job stands with this operator. */
export const JobStatusSchema = z.object({
  serviceId: z.string().regex(/^\d{1,20}$/),
  callId: z.string().regex(/^\d{1,20}$/),
  status: z.enum(JOB_STATUSES),
});

/** GET /v1/outputs/:hash: the full output of a chain job, to check against its on-chain hash. */
export const FullOutputSchema = z.object({
  hash: z.string().regex(/^0x[0-9a-f]{64}$/),
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
});

/** DELETE /v1/snapshots/:id */
export const SnapshotDeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

/** GET /v1/instances/:id/exposures (tokens are only in the answer of expose). */
export const ExposureListSchema = z.object({ exposures: z.array(ExposureSchema) });

/** DELETE /v1/instances/:id/exposures/:name */
export const ExposureRemovedSchema = z.object({ removed: z.boolean() });

/** POST /v1/instances/:id/files/delete */
export const FilesDeletedSchema = z.object({ deleted: z.number().int() });

// ---- compile-time ties to what the handlers return --------------------------------------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Answer<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

const tied: [
  Same<z.infer<typeof FullOutputSchema>, FullOutput>,
  Same<z.infer<typeof JobStatusSchema>['status'], JobStatus>,
  Same<z.infer<typeof ExposureListSchema>, Answer<InstanceService['exposures']>>,
  Same<z.infer<typeof ExposureRemovedSchema>, Answer<InstanceService['unexpose']>>,
  Same<z.infer<typeof FilesDeletedSchema>, Answer<InstanceService['deleteFiles']>>,
  Same<void, Answer<SnapshotService['delete']>>,
] = [true, true, true, true, true, true];
void tied;
