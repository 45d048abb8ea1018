// What users import to use the FaaS operator.
export { FaaSClient, ExecutionStream } from './faas-client.js';
export type { FaaSClientConfig, ExecuteParams, ExecutionResult, Bytes, SnapshotInfo, RestoreInfo, BranchInfo, MergeInfo, MergeStrategy } from './faas-client.js';
export { TangleFaaSClient, fetchFullOutput, verifyOperatorResult, defaultQuorum, agreement } from './tangle-client.js';
export type { TangleFaaSClientConfig, JobRequest, JobResult, JobStatus, JobUpdate, OperatorResult, JobContext, Agreement } from './tangle-client.js';
export { FaaSError, ExecutionError, RateLimitError, ValidationError, AuthError, NotFoundError, NotImplementedError, TimeoutError, MergeConflictError, QuotaExceededError, InsufficientCreditError, ERROR_CODES, HTTP_STATUS_OF_CODE } from '../errors.js';
export type { ErrorCode } from '../errors.js';
export type { StreamEvent, ExecutionInfo, CurrentUsage, UsageMetrics } from '../api/index.js';
export { InstancesApi } from './instances.js';
export type { PortForward, CopyFilesParams, SyncFilesParams, SyncSummary, StartInstanceParams } from './instances.js';
export type { InstanceInfo, SshInfo, Exposure, InstanceExecResult, FileList, FileEntry, JupyterInfo, VncInfo, VSCodeInfo } from '../api/index.js';
