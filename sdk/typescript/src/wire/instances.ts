// What an instance is started with (POST /v1/instances): the zod schema is the one source of
// the type, for the instance manager, the API and the SDK.
import { z } from 'zod';
import { LanguageSchema } from './execute.js';

export const InstanceResourcesSchema = z
  .object({
    cpuCores: z.number().positive().max(1024).default(1),
    memoryMb: z.number().int().min(64).max(1 << 20).default(512),
    /** The instance's writable disk (HOME, /tmp, /workspace), GiB; fractions allowed (0.25 = 256 MiB). */
    diskGb: z.number().positive().max(1024).default(1),
    gpuCount: z.number().int().min(0).max(64).default(0),
  })
  .strict();
export type InstanceResourcesInput = z.input<typeof InstanceResourcesSchema>;

export const InstanceSpecSchema = z
  .object({
    /** Start from a snapshot's files (the snapshot issue). */
    snapshotId: z.string().min(1).max(128).optional(),
    /** The language the owner mainly works in (every instance has python, node and a shell). */
    language: LanguageSchema.default('python'),
    resources: InstanceResourcesSchema.default(InstanceResourcesSchema.parse({})),
    /** Seconds until the instance is stopped; default and maximum: the operator's. */
    ttl: z.number().int().min(1).optional(),
    /** Stop after this many idle seconds (true: the operator's idle time; false: never for idleness). */
    autoStop: z.union([z.boolean(), z.number().int().min(1)]).default(false),
    /** Outbound network (only where the operator allows it; recorded in usage). */
    network: z.boolean().default(false),
  })
  .strict();
export type InstanceSpec = z.infer<typeof InstanceSpecSchema>;
export type InstanceSpecInput = z.input<typeof InstanceSpecSchema>;
