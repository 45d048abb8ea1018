// What an instance is started with: the zod schema is the wire contract of the @faas/sdk
// package (sdk/typescript/src/wire/instances.ts), re-exported here with the manager's settings.
export { InstanceResourcesSchema, InstanceSpecSchema } from '@faas/sdk/wire';
export type { InstanceResourcesInput, InstanceSpec, InstanceSpecInput } from '@faas/sdk/wire';

/** What an instance id looks like. */
export const INSTANCE_ID_PATTERN = /^inst-[0-9a-f]{16}$/;

/** Names of exposed URLs: `/i/<id>/<name>/`. */
export const EXPOSE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export interface InstanceSettings {
  /** The devbox image instances run. */
  image: string;
  /** Whether the operator builds a missing devbox image itself (on first use; devbox-image.ts). */
  imageBuild: boolean;
  /** How long an instance start waits for a build under way before answering with its progress (s). */
  imageWaitS: number;
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
