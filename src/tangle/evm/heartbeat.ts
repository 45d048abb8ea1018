// Liveness heartbeats to tnt-core's OperatorStatusRegistry. At service activation the Tangle
// contract registers each of the service's operators there (status Offline until its first
// beat); an operator then proves it is up with `submitHeartbeat` at least once per the
// service's heartbeat interval (the registry's default, 5 minutes, unless the blueprint's
// manager or the service owner set another), or it counts missed beats and goes Offline —
// which makes it slashable. One beat per served service at start, then every interval / 3.
import type { Logger } from 'pino';
import type { EvmTangleClient } from './client.js';
import { revertReason, statusRegistryAbi } from '@faas/sdk/chain/evm';

export interface HeartbeatOptions {
  client: EvmTangleClient;
  services: readonly bigint[];
  log: Logger;
  /** Between two beats (ms). Default: a third of each service's registry interval. */
  intervalMs?: number;
}

export class HeartbeatConfigError extends Error {
  readonly code = 'INVALID_HEARTBEAT_INTERVAL';
}

/** Starts the beats (the first one per service at once, awaited); resolves with their stop. */
export async function startHeartbeats(o: HeartbeatOptions): Promise<() => Promise<void>> {
  if (o.intervalMs !== undefined && !(Number.isFinite(o.intervalMs) && o.intervalMs >= 100)) {
    throw new HeartbeatConfigError(`heartbeat interval (FAAS_HEARTBEAT_MS): must be at least 100 ms, got ${o.intervalMs}`);
  }
  const timers = new Map<bigint, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopped = false;
  const blueprints = new Map<bigint, bigint>();

  const beat = async (serviceId: bigint): Promise<void> => {
    try {
      let blueprintId = blueprints.get(serviceId);
      if (blueprintId === undefined) {
        const s = await o.client.service(serviceId);
        if (!s) throw new Error(`service ${serviceId} is not on-chain`);
        blueprintId = s.blueprintId;
        blueprints.set(serviceId, blueprintId);
      }
      await o.client.heartbeat(serviceId, blueprintId);
      o.log.debug({ serviceId: String(serviceId) }, 'heartbeat sent');
    } catch (err) {
      // A missed beat is not fatal: the next one comes at the next interval.
      o.log.warn({ serviceId: String(serviceId), err: revertReason(err, statusRegistryAbi) }, 'heartbeat failed');
    }
  };

  const schedule = (serviceId: bigint, ms: number) => {
    if (stopped) return;
    timers.set(
      serviceId,
      setTimeout(() => {
        const p = beat(serviceId).finally(() => running.delete(p));
        running.add(p);
        void p.then(() => schedule(serviceId, ms));
      }, ms),
    );
  };

  await Promise.all(
    o.services.map(async (serviceId) => {
      await beat(serviceId);
      const ms = o.intervalMs ?? Math.max(1_000, Math.floor(((await o.client.heartbeatInterval(serviceId).catch(() => 300)) * 1000) / 3));
      schedule(serviceId, ms);
    }),
  );

  return async () => {
    stopped = true;
    for (const t of timers.values()) clearTimeout(t);
    await Promise.allSettled([...running]);
  };
}
