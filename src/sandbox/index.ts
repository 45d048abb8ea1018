// Public face of the sandbox: the engine interface, its Docker backend, and request types.
export { DockerSandboxEngine, durableState } from './engine.js';
export type { SandboxEngine, SnapshotEngine, EngineState, EngineStats } from './engine.js';
export type { SnapshotInfo, RestoreInfo, BranchInfo, MergeInfo, MergeStrategy } from './contexts.js';
export { validateRequest, validationErrorFrom, configKey } from './policy.js';
export { PROTOCOL_VERSION } from './protocol.js';
export * from './labels.js';
export {
  BASE_IMAGE,
  RUNTIME_IMAGES,
  RUNTIME_DOCKERFILE,
  IMAGE_OF_LANGUAGE,
  LANGUAGE_OF_IMAGE,
  NODE_IMAGE_INPUTS,
  RUNTIME_EXTRA_STAGE,
  agentFiles,
  runtimeImageTag,
  runtimeImageHash,
  hashFiles,
} from './images.js';
export type { RuntimeImage } from './images.js';
export { InstanceManager, InstanceSpecSchema, InstanceResourcesSchema } from './instances/index.js';
export type { InstanceSettings, InstanceSpec, InstanceSpecInput, DevboxImage, DevboxImageStatus } from './instances/index.js';
export * from './types.js';
