// Public face of the embedded store.
export { JobStore } from './jobs.js';
export type { StoredJob, JobStatus, FullOutput } from './jobs.js';
