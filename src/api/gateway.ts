// Assembles the gateway's services over one engine and one database.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { SandboxEngine } from '../sandbox/index.js';
import { KeyStore, UsageStore } from '../store/index.js';
import type { Db } from '../store/index.js';
import type { GatewayDeps } from './server.js';
import { Authenticator, ExecutionService, RateLimiter, SnapshotService, UsageService, hasSnapshots } from './services/index.js';

export function createGateway(config: Config, engine: SandboxEngine, db: Db, log: Logger): GatewayDeps & { keys: KeyStore } {
  const keys = new KeyStore(db);
  const usageStore = new UsageStore(db);
  const limiter = new RateLimiter();
  const executions = new ExecutionService({ engine, usage: usageStore, limiter, limits: config.limits, prices: config.prices, log });
  const usage = new UsageService({ usage: usageStore, limiter, executions, prices: config.prices, defaultCredit: config.defaultCredit });
  const snapshots = hasSnapshots(engine) ? new SnapshotService({ engine }) : undefined;
  return { keys, auth: new Authenticator(keys, config.rateLimits), limiter, executions, usage, snapshots };
}
