// What users import to use the FaaS operator.
export { FaaSClient, ExecutionStream } from './client/faas-client.js';
export type { FaaSClientConfig, ExecuteParams, ExecutionResult, Bytes, SnapshotInfo, RestoreInfo, BranchInfo, MergeInfo, MergeStrategy } from './client/faas-client.js';
export { TangleFaaSClient, fetchFullOutput, verifyOperatorResult, defaultQuorum, agreement } from './client/tangle-client.js';
export type { TangleFaaSClientConfig, JobRequest, JobResult, JobStatus, JobUpdate, OperatorResult, JobContext, Agreement } from './client/tangle-client.js';
export { FaaSError, ExecutionError, RateLimitError, ValidationError, AuthError, NotFoundError, NotImplementedError, TimeoutError, MergeConflictError, QuotaExceededError, InsufficientCreditError, ERROR_CODES, HTTP_STATUS_OF_CODE } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { StreamEvent, ExecutionInfo, CurrentUsage, UsageMetrics } from './wire/index.js';
export { InstancesApi } from './client/instances.js';
export type { PortForward, CopyFilesParams, SyncFilesParams, SyncSummary, StartInstanceParams } from './client/instances.js';
export type { InstanceInfo, SshInfo, Exposure, InstanceExecResult, FileList, FileEntry, JupyterInfo, VncInfo, VSCodeInfo } from './wire/index.js';
