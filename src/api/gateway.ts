// Assembles the gateway's services over one engine and one database.
import Docker from 'dockerode';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { SandboxEngine } from '../sandbox/index.js';
import { InstanceManager } from '../sandbox/instances/index.js';
import { InstanceStore, KeyStore, UsageStore } from '../store/index.js';
import type { Db } from '../store/index.js';
import type { GatewayDeps } from './server.js';
import { Authenticator, CreditGuard, ExecutionService, InstanceService, RateLimiter, SnapshotService, UsageService, hasSnapshots, instanceUsageRecorder } from './services/index.js';

export function createGateway(config: Config, engine: SandboxEngine, db: Db, log: Logger): GatewayDeps & { keys: KeyStore; instances: InstanceService; instanceManager: InstanceManager } {
  const keys = new KeyStore(db);
  const usageStore = new UsageStore(db);
  const limiter = new RateLimiter();
  // The credit rule (a balance at or below zero starts nothing) and the per-key quotas.
  const credit = new CreditGuard(usageStore, config.defaultCredit);
  const executions = new ExecutionService({ engine, usage: usageStore, limiter, limits: config.limits, prices: config.prices, log, credit, quotas: config.quotas });
  const usage = new UsageService({ usage: usageStore, limiter, executions, prices: config.prices, defaultCredit: config.defaultCredit });
  // Persistent instances: found again from the database in the background (their calls wait for it).
  const instanceStore = new InstanceStore(db);
  const instanceManager = new InstanceManager({
    docker: (engine as { docker?: Docker }).docker ?? new Docker(),
    store: instanceStore,
    settings: { ...config.instances, listenHost: config.api.host },
    limits: config.limits,
    log,
    onStopped: instanceUsageRecorder(usageStore, config.prices, log),
  });
  void instanceManager.start().catch((err: Error) => log.error({ err: err.message }, 'instances could not be recovered'));
  const snapshots = hasSnapshots(engine) ? new SnapshotService({ engine, credit }) : undefined;
  const instances = new InstanceService({ manager: instanceManager, store: instanceStore, log, credit, maxFileOps: config.quotas.fileOps, exposeDomain: config.exposeDomain, ...(hasSnapshots(engine) ? { snapshots: engine } : {}) });
  return { keys, auth: new Authenticator(keys, config.rateLimits), limiter, executions, usage, instances, instanceManager, snapshots, publicRateLimit: config.quotas.publicRateLimit };
}
