// What the API's routes are given: the gateway's services and the job outputs. Its own module,
// so the server and every handler import it without importing each other.
import type { Logger } from 'pino';
import type { FullOutput } from '../store/index.js';
import type { Authenticator, ExecutionService, InstanceService, RateLimiter, SnapshotService, UsageService } from './services/index.js';

/** The FaaS gateway's services (absent: the API serves outputs only). */
export interface GatewayDeps {
  auth: Authenticator;
  limiter: RateLimiter;
  executions: ExecutionService;
  usage: UsageService;
  /** Persistent instances (absent: no instance routes). */
  instances?: InstanceService;
  /** Snapshots and branches (absent: their routes answer NOT_IMPLEMENTED). */
  snapshots?: SnapshotService;
  /** Requests per window per client IP on the public routes (absent: not limited). */
  publicRateLimit?: { requests: number; windowMs: number };
}

export interface ApiDeps {
  log: Logger;
  /** Full outputs of chain jobs by output hash (the chain may hold a cut copy). */
  outputs: { output(hash: string): FullOutput | null; get?(serviceId: bigint, callId: bigint): { status: string } | null };
  gateway?: GatewayDeps;
}

