// The package's public face: what users import. The main export is FaaSClient (the gateway
// SDK); TangleFaaSClient submits jobs through the chain; the engine and config are for operators.
export { FaaSClient, ExecutionStream, TangleFaaSClient, fetchFullOutput, verifyOperatorResult } from '@faas/sdk';
export type { FaaSClientConfig, ExecuteParams, ExecutionResult, Bytes, TangleFaaSClientConfig, JobRequest, JobResult, JobStatus, JobUpdate, OperatorResult } from '@faas/sdk';
export type { StreamEvent, ExecutionInfo, CurrentUsage, UsageMetrics } from './api/index.js';
export * from './sandbox/index.js';
export { loadConfig } from './config.js';
export type { Config, SandboxLimits } from './config.js';
export * from '@faas/sdk/errors';
export { createLogger } from './log.js';
