// The gateway's services: the logic the thin handlers call.
export { Authenticator } from './auth.js';
export { RateLimiter } from './rate-limiter.js';
export type { LimitStatus } from './rate-limiter.js';
export { Execution, ExecutionService, failureOf } from './executions.js';
export { CreditGuard } from './credit.js';
export { UsageService } from './usage.js';
export { InstanceService, instanceUsageRecorder } from './instances.js';
export { SnapshotService, hasSnapshots } from './snapshots.js';
