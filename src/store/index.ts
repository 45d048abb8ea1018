// Public face of the embedded store.
export { openDatabase } from './database.js';
export type { Db } from './database.js';
export { JobStore } from './jobs.js';
export type { StoredJob, JobStatus, FullOutput } from './jobs.js';
export { KeyStore } from './keys.js';
export type { ApiKey, NewKeyOptions } from './keys.js';
export { UsageStore } from './usage.js';
export type { UsageRecord, UsageTotalsRow } from './usage.js';
export { InstanceStore, sha256 } from './instances.js';
export type { InstanceRecord, InstanceResources, InstanceStatus, StopReason, ExposureRecord } from './instances.js';
export { ContextStore } from './contexts.js';
export type { ContextRecord, SnapshotRecord, BranchRecord } from './contexts.js';
