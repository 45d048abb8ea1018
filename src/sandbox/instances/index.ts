// Public face of persistent instances: the manager, its settings and request schema, and the
// SSH key format (the SDK reads it).
export { InstanceManager } from './manager.js';
export type { InstanceManagerDeps } from './manager.js';
export { DevboxImage, DevboxImageUnavailableError } from './devbox-image.js';
export type { DevboxImageStatus, DevboxImageState } from './devbox-image.js';
export { InstanceSpecSchema, InstanceResourcesSchema, INSTANCE_ID_PATTERN, EXPOSE_NAME_PATTERN } from './types.js';
export type { InstanceSpec, InstanceSpecInput, InstanceResourcesInput, InstanceSettings } from './types.js';
export { MuxChannel } from './mux.js';
export type { RunningExec, ExecOptions } from './exec.js';
export { SSHD_PORT, SSH_USER, HOME as INSTANCE_HOME, ROLE_LABEL, INSTANCE_LABEL, INSTANCE_DB_LABEL } from './container.js';
export { makeSshKeyPair, publicKeyFingerprint } from './ssh-keys.js';
export type { SshKeyPair } from './ssh-keys.js';
