// Public face of the sandbox: createSandbox (the engine and persistent instances over one Docker
// client), the engine interface, its Docker backend, and request types.
export { createSandbox } from './sandbox.js';
export type { Sandbox, SandboxOptions, InstanceManagerOptions } from './sandbox.js';
export { DockerSandboxEngine, durableState } from './engine.js';
export type { SandboxEngine, SnapshotEngine, EngineState, EngineStats } from './engine.js';
export type { SnapshotInfo, RestoreInfo, BranchInfo, MergeInfo, MergeStrategy } from './snapshot-info.js';
export { validateRequest, validationErrorFrom, configKey, containerOptions } from './policy.js';
export type { ContainerSpec } from './policy.js';
export { familySeccompProfile } from './seccomp.js';
export { PROTOCOL_VERSION } from './protocol.js';
// The bench reads containers' cgroups as the engine does.
export { cgroupFileCandidates, findCpuCounter } from './cgroup.js';
export type { CpuCounter } from './cgroup.js';
export * from './labels.js';
export {
  BASE_OF_IMAGE,
  FIRST_JOB_LANGUAGE,
  RUNTIME_IMAGES,
  RUNTIME_DOCKERFILE,
  IMAGE_OF_LANGUAGE,
  LANGUAGE_OF_IMAGE,
  NODE_IMAGE_INPUTS,
  RUNTIME_EXTRA_STAGE,
  agentFiles,
  runtimeImageTag,
  runtimeImageTagSuffix,
  runtimeImagePlan,
  baseImageTag,
  runtimeImageHash,
  hashFiles,
} from './images.js';
export type { RuntimeImage, BaseImage } from './images.js';
export {
  InstanceManager,
  InstanceSpecSchema,
  InstanceResourcesSchema,
  INSTANCE_ID_PATTERN,
  EXPOSE_NAME_PATTERN,
  MuxChannel,
  SSHD_PORT,
  SSH_USER,
  INSTANCE_HOME,
  ROLE_LABEL,
  INSTANCE_LABEL,
  INSTANCE_DB_LABEL,
  makeSshKeyPair,
  publicKeyFingerprint,
  SNAPSHOT_FILES_DIR,
  archiveFiles,
  deleteFiles,
  instancePath,
  listFiles,
  unpackFiles,
  LAUNCHER_PORTS,
  DevboxImage,
  DevboxImageUnavailableError,
  launchJupyter,
  launchVNC,
  launchVSCode,
} from './instances/index.js';
export type { InstanceManagerDeps, InstanceSettings, InstanceSpec, InstanceSpecInput, InstanceResourcesInput, RunningExec, ExecOptions, SshKeyPair, InstanceCommands, Launched, LauncherName, DevboxImageStatus, DevboxImageState } from './instances/index.js';
export * from './types.js';
