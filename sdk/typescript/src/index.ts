// What users import: FaaSClient (an operator's gateway), TangleFaaSClient (verifiable jobs on
// Tangle), the typed errors, and the wire types. Subpaths: @faas/sdk/wire (the zod schemas),
// @faas/sdk/errors, @faas/sdk/blueprint (the job contract), @faas/sdk/chain, @faas/sdk/chain/evm.
export { FaaSClient, ExecutionStream } from './client/faas-client.js';
export type { FaaSClientConfig, ExecuteParams, ExecuteOptions, RequestOptions, ExecutionResult, Bytes, SnapshotInfo, RestoreInfo, BranchInfo, MergeInfo, MergeStrategy } from './client/faas-client.js';
export type { ExecutionStreamEvents } from './client/stream.js';
export { TangleFaaSClient, fetchFullOutput, verifyOperatorResult, defaultQuorum, agreement } from './client/tangle-client.js';
export type { TangleFaaSClientConfig, TangleAccount, JobRequest, JobResult, JobStatus, JobUpdate, OperatorResult, JobContext, Agreement, EvmFaaSClientConfig } from './client/tangle-client.js';
export {
  FaaSError,
  ExecutionError,
  RateLimitError,
  ValidationError,
  AuthError,
  NotFoundError,
  NotImplementedError,
  TimeoutError,
  ConnectionError,
  ConflictError,
  MergeConflictError,
  QuotaExceededError,
  InsufficientCreditError,
  ResourceUnavailableError,
  QueueFullError,
  SandboxError,
  ShuttingDownError,
  ERROR_CODES,
  HTTP_STATUS_OF_CODE,
} from './errors.js';
export type { ErrorCode, ErrorBody } from './errors.js';
export type { StreamEvent, ExecutionInfo, CurrentUsage, UsageMetrics, CurrentUsageView, UsageMetricsView } from './wire/index.js';
export { InstancesApi } from './client/instances.js';
export type { PortForward, CopyFilesParams, SyncFilesParams, SyncSummary, StartInstanceParams, ExposedUrl, Launched } from './client/instances.js';
export type { InstanceInfo, SshInfo, Exposure, InstanceExecResult, FileList, FileEntry, JupyterInfo, VncInfo, VSCodeInfo } from './wire/index.js';
