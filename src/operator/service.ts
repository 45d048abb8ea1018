// The operator service: engine + chain client + embedded database + operator loop + API,
// started and stopped together. Used by `npm run operator -- run` and by `npm start`.
import type { Logger } from 'pino';
import { createGateway, startApiServer } from '../api/index.js';
import type { ApiServer, GatewaySandbox } from '../api/index.js';
import { PolkadotTangleClient } from '../tangle/index.js';
import type { TangleClient } from '../tangle/index.js';
import { EvmTangleClient, startHeartbeats } from '../tangle/evm/index.js';
import type { Config } from '../config.js';
import type { DevboxImage, SandboxEngine } from '../sandbox/index.js';
import { JobStore, openDatabase } from '../store/index.js';
import type { KeyStore } from '../store/index.js';
import { Operator } from './operator.js';
import type { OperatorDeps } from './operator.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';

export interface OperatorServiceOptions {
  rpcUrl: string;
  /** Tangle's EVM protocol instead of the Substrate chain: the Tangle contract, and the account's
   *  private key (0x…) in `suri`. */
  evm?: {
    tangle: `0x${string}`;
    /** OperatorStatusRegistry (default: the one the Tangle contract names). */
    statusRegistry?: `0x${string}`;
    /** The first block to read the Tangle contract's logs from (its deployment; default 0). */
    fromBlock?: number;
    /** Between heartbeats (ms; default a third of the registry's interval); 0: none. */
    heartbeatMs?: number;
  };
  /** The operator account's secret (mnemonic or dev URI); never logged. */
  suri: string;
  services: bigint[];
  /** The embedded database; ':memory:' for a throw-away chain. */
  dbPath: string;
  engine: SandboxEngine;
  log: Logger;
  /** Which blocks' job calls to act on: finalized (default) or best (sooner; may be reverted). */
  follow?: 'finalized' | 'best';
  /** The API: full outputs by hash always; with `config` and `sandbox` (the engine's, from
   *  createSandbox: its instances too), the whole FaaS gateway. False: no API. */
  api?: ({ host?: string; port?: number } & ({ config: Config; sandbox: GatewaySandbox } | { config?: undefined; sandbox?: undefined })) | false;
  /** Test-only crash points (see OperatorDeps). */
  crashPoint?: OperatorDeps['crashPoint'];
}

export interface OperatorService {
  address: string;
  /** The operator API's base URL, when it serves one: what it registers as its `rpcAddress`. */
  apiUrl: string | null;
  /** The gateway's API keys (when it serves the gateway). */
  keys: KeyStore | null;
  /** The devbox image of its persistent instances (when it serves the gateway): `npm start` builds it in the background. */
  devboxImage: DevboxImage | null;
  stop(): Promise<void>;
}

export async function startOperatorService(o: OperatorServiceOptions): Promise<OperatorService> {
  if (!o.services.length) throw new Error('no services to serve: list their ids (FAAS_SERVICE_IDS)');
  const client: TangleClient = o.evm
    ? new EvmTangleClient({ rpcUrl: o.rpcUrl, privateKey: o.suri as `0x${string}`, tangle: o.evm.tangle, statusRegistry: o.evm.statusRegistry, fromBlock: o.evm.fromBlock, log: o.log, follow: o.follow === 'best' ? 'latest' : 'finalized' })
    : new PolkadotTangleClient({ rpcUrl: o.rpcUrl, suri: o.suri, log: o.log, follow: o.follow });
  await client.connect();
  const db = openDatabase(o.dbPath);
  const store = new JobStore(db);
  const signer = o.evm ? { evmPrivateKey: o.suri as `0x${string}` } : (await operatorSigningKey(o.suri)).pair;
  const operator = new Operator({ client, engine: o.engine, store, signer, services: new Set(o.services), log: o.log, crashPoint: o.crashPoint });
  const gateway = o.api && o.api.config ? createGateway(o.api.config, o.api.sandbox, db, o.log) : undefined;
  const api: ApiServer | null =
    o.api === false ? null : await startApiServer({ log: o.log, outputs: store, gateway }, { host: o.api?.host, port: o.api?.port, bodyLimit: o.api?.config?.api.bodyLimitBytes, requestTimeoutMs: o.api?.config?.api.requestTimeoutMs });
  await operator.start();
  // On tnt-core, liveness heartbeats to the OperatorStatusRegistry for every served service.
  const stopHeartbeats =
    client instanceof EvmTangleClient && o.evm?.heartbeatMs !== 0 ? await startHeartbeats({ client, services: o.services, log: o.log, intervalMs: o.evm?.heartbeatMs }) : null;
  return {
    address: client.address,
    apiUrl: api?.url ?? null,
    keys: gateway?.keys ?? null,
    devboxImage: gateway?.instanceManager.image ?? null,
    stop: async () => {
      await api?.close();
      await gateway?.instanceManager.close(); // relays and SSH ports; the instances keep running
      await stopHeartbeats?.();
      await operator.stop();
      await client.disconnect();
      db.close();
    },
  };
}
