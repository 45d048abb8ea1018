// What an instance is started with: the zod schema is the wire contract of the @faas/sdk
// package (sdk/typescript/src/wire/instances.ts), re-exported here with the ids' patterns and
// the manager's settings (defined with the rest of the configuration).
import { ResourceUnavailableError } from '@faas/sdk/errors';
import { InstanceSpecSchema } from '@faas/sdk/wire';
import type { InstanceSpec, InstanceSpecInput } from '@faas/sdk/wire';
import type { InstanceSettings, SandboxLimits } from '../../config.js';
import { validationErrorFrom } from '../policy.js';

export { InstanceResourcesSchema, InstanceSpecSchema } from '@faas/sdk/wire';
export type { InstanceResourcesInput, InstanceSpec, InstanceSpecInput } from '@faas/sdk/wire';

/** What an instance id looks like. */
export const INSTANCE_ID_PATTERN = /^inst-[0-9a-f]{16}$/;

/** Names of exposed URLs: `/i/<id>/<name>/`. */
export const EXPOSE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export type { InstanceSettings } from '../../config.js';

/**
 * A start request checked against this operator's limits: VALIDATION_ERROR for a malformed one,
 * RESOURCE_UNAVAILABLE (naming the field) for one over what the operator offers.
 */
export function checkInstanceSpec(input: InstanceSpecInput, limits: SandboxLimits, settings: Pick<InstanceSettings, 'allowNetwork' | 'defaultTtlS' | 'maxTtlS'>): { spec: InstanceSpec; diskMb: number; ttl: number } {
  const parsed = InstanceSpecSchema.safeParse(input ?? {});
  if (!parsed.success) throw validationErrorFrom(parsed.error);
  const spec = parsed.data;
  const res = spec.resources;
  const diskMb = Math.ceil(res.diskGb * 1024);
  if (res.cpuCores > limits.maxCpuCores) throw new ResourceUnavailableError('resources.cpuCores', `${res.cpuCores} cores is over this operator's maximum of ${limits.maxCpuCores} cores`);
  if (res.memoryMb > limits.maxMemoryMb) throw new ResourceUnavailableError('resources.memoryMb', `${res.memoryMb} MiB is over this operator's maximum of ${limits.maxMemoryMb} MiB`);
  if (diskMb > limits.maxDiskMb) throw new ResourceUnavailableError('resources.diskGb', `${res.diskGb} GiB is over this operator's maximum of ${limits.maxDiskMb / 1024} GiB (the disk is memory-backed)`);
  if (res.gpuCount > 0) throw new ResourceUnavailableError('resources.gpuCount', limits.gpuCount === 0 ? 'this operator has no GPUs; ask for gpuCount 0' : 'GPU instances are not offered on this operator yet; ask for gpuCount 0');
  if (spec.network && !settings.allowNetwork) throw new ResourceUnavailableError('network', 'this operator gives instances no outbound network (FAAS_INSTANCE_NETWORK=none)');
  const ttl = spec.ttl ?? settings.defaultTtlS;
  if (ttl > settings.maxTtlS) throw new ResourceUnavailableError('ttl', `${ttl} s is over this operator's maximum of ${settings.maxTtlS} s`);
  return { spec, diskMb, ttl };
}
