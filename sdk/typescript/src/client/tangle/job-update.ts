// What a TangleFaaSClient tells about a job as it goes (its 'jobUpdate' event), in a module of
// its own: both the Substrate client and the EVM client emit it.
import type { JobResult, OperatorResult } from './verify.js';

export type JobStatus = 'submitted' | 'executing' | 'result' | 'completed' | 'failed';

export interface JobUpdate {
  jobId: bigint;
  status: JobStatus;
  /** With 'result': one operator's checked result. */
  operatorResult?: OperatorResult;
  /** With 'completed' / 'failed'. */
  result?: JobResult;
}
