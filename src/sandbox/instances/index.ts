// Public face of persistent instances: the manager, its settings and request schema, the SSH
// key format (the SDK reads it), file operations and the devbox launchers.
export { InstanceManager } from './manager.js';
export type { InstanceManagerDeps } from './manager.js';
export { DevboxImage, DevboxImageUnavailableError } from './devbox-image.js';
export type { DevboxImageStatus, DevboxImageState } from './devbox-image.js';
export { InstanceSpecSchema, InstanceResourcesSchema, INSTANCE_ID_PATTERN, EXPOSE_NAME_PATTERN } from './spec.js';
export type { InstanceSpec, InstanceSpecInput, InstanceResourcesInput, InstanceSettings } from './spec.js';
export { MuxChannel } from './mux.js';
export type { RunningExec, ExecOptions } from './exec.js';
export { SSHD_PORT, SSH_USER, HOME as INSTANCE_HOME, ROLE_LABEL, INSTANCE_LABEL, INSTANCE_DB_LABEL } from './container.js';
export { makeSshKeyPair, publicKeyFingerprint } from './ssh-keys.js';
export { SNAPSHOT_FILES_DIR, archiveFiles, checkEntry, deleteFiles, instancePath, listFiles, unpackFiles } from './files.js';
export type { InstanceCommands } from './files.js';
export { LAUNCHER_PORTS, launchJupyter, launchVNC, launchVSCode } from './launchers.js';
export type { Launched, LauncherName } from './launchers.js';
export type { SshKeyPair } from './ssh-keys.js';
