// The Docker labels the operator puts on what it makes (containers, images, networks) and
// finds it by: one place for their names. (The in-sandbox programs read none of them.)

/** On every container, image and network the operator manages: what its leak checks and clean-ups look for. */
export const MANAGED_LABEL = 'faas.managed';
/** On runtime images: the hash of what the image is made from (rebuilt when it differs). */
export const CONTENT_LABEL = 'faas.content';
/** The pid of the operator process that made a container (a dead owner's containers are removed). */
export const OWNER_PID_LABEL = 'faas.owner-pid';
/** What a container is for: `family` (stateful contexts), `persistent` (an instance), ... */
export const ROLE_LABEL = 'faas.role';
/** A persistent instance's id, on its container. */
export const INSTANCE_LABEL = 'faas.instance';
/** The instance store (database) a persistent instance's container belongs to. */
export const INSTANCE_DB_LABEL = 'faas.instance-db';
/** On the bridge network of persistent instances. */
export const MANAGED_NETWORK_LABEL = 'faas.managed-network';
/** On the throw-away containers of scripts/probe-criu.ts (and `${CRIU_PROBE_LABEL}.case`). */
export const CRIU_PROBE_LABEL = 'faas.criu-probe';
/** On the throw-away containers of the devbox test. */
export const DEVBOX_PROBE_LABEL = 'faas.devbox-probe';
