// What an instance is started with: the zod schema is the one source of the type (the API's
// body schema is this one, src/api/schemas.ts).
import { z } from 'zod';
import { LanguageSchema } from '../types.js';

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

/** What an instance id looks like. */
export const INSTANCE_ID_PATTERN = /^inst-[0-9a-f]{16}$/;

/** Names of exposed URLs: `/i/<id>/<name>/`. */
export const EXPOSE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export interface InstanceSettings {
  /** The devbox image instances run. */
  image: string;
  /** Whether an instance may ask for outbound network. */
  allowNetwork: boolean;
  /** Where the operator's SSH relays listen (the API's host). */
  listenHost: string;
  /** Ports the SSH relays may take; null: any free port. */
  portRange: [number, number] | null;
  /** Idle time of `autoStop: true`, seconds. */
  idleTimeoutS: number;
  defaultTtlS: number;
  maxTtlS: number;
  /** Instances one key may have running (or paused) at once. */
  maxPerKey: number;
  /** Processes one instance may run. */
  pidsLimit: number;
}
