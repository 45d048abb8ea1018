// Assembles the gateway's services over one sandbox (engine and instances) and one database.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { InstanceManager, Sandbox, SandboxEngine } from '../sandbox/index.js';
import { InstanceStore, KeyStore, UsageStore } from '../store/index.js';
import type { Db } from '../store/index.js';
import type { GatewayDeps } from './deps.js';
import { Authenticator, CreditGuard, ExecutionService, InstanceService, RateLimiter, SnapshotService, UsageService, hasSnapshots, instanceUsageRecorder } from './services/index.js';

/** What the gateway runs on: an engine (any backend) and the sandbox's instance managers. */
export type GatewaySandbox = Pick<Sandbox, 'instanceManager'> & { engine: SandboxEngine };

export function createGateway(config: Config, sandbox: GatewaySandbox, db: Db, log: Logger): GatewayDeps & { keys: KeyStore; instances: InstanceService; instanceManager: InstanceManager } {
  const { engine } = sandbox;
  const keys = new KeyStore(db);
  const usageStore = new UsageStore(db);
  const limiter = new RateLimiter();
  // The credit rule (a balance at or below zero starts nothing) and the per-key quotas.
  const credit = new CreditGuard(usageStore, config.defaultCredit);
  const executions = new ExecutionService({ engine, usage: usageStore, limiter, limits: config.limits, prices: config.prices, log, credit, quotas: config.quotas });
  const usage = new UsageService({ usage: usageStore, limiter, executions, prices: config.prices, defaultCredit: config.defaultCredit });
  // Persistent instances of this database: found again in the background (their calls wait for it).
  const instanceStore = new InstanceStore(db);
  const instanceManager = sandbox.instanceManager({ store: instanceStore, onStopped: instanceUsageRecorder(usageStore, config.prices, log) });
  void instanceManager.start().catch((err: Error) => log.error({ err: err.message }, 'instances could not be recovered'));
  const snapshots = hasSnapshots(engine) ? new SnapshotService({ engine, credit }) : undefined;
  const instances = new InstanceService({ manager: instanceManager, store: instanceStore, log, credit, maxFileOps: config.quotas.fileOps, exposeDomain: config.exposeDomain, ...(hasSnapshots(engine) ? { snapshots: engine } : {}) });
  return { keys, auth: new Authenticator(keys, config.rateLimits), limiter, executions, usage, instances, instanceManager, snapshots, publicRateLimit: config.quotas.publicRateLimit };
}
