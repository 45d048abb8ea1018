// What users import to use the FaaS operator.
export { TangleFaaSClient, verifyJobResult } from './tangle-client.js';
export type { TangleFaaSClientConfig, JobRequest, JobResult, JobStatus } from './tangle-client.js';
