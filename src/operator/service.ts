// The operator service: engine + chain client + job store + operator loop, started and
// stopped together. Used by `npm run operator -- run` and by `npm start`.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { startApiServer } from '../api/index.js';
import type { ApiServer } from '../api/index.js';
import { PolkadotTangleClient } from '../chain/index.js';
import type { SandboxEngine } from '../sandbox/index.js';
import { JobStore } from '../store/index.js';
import { Operator } from './operator.js';
import { operatorSigningKey } from './result.js';

export interface OperatorServiceOptions {
  rpcUrl: string;
  /** The operator account's secret (mnemonic or dev URI); never logged. */
  suri: string;
  services: bigint[];
  /** Job store path; ':memory:' for a throw-away chain. */
  dbPath: string;
  engine: SandboxEngine;
  log: Logger;
  /** Where the operator API listens (full outputs by hash, and the FaaS API); false: no API. */
  api?: { host?: string; port?: number } | false;
}

export interface OperatorService {
  address: string;
  /** The operator API's base URL, when it serves one: what it registers as its `rpcAddress`. */
  apiUrl: string | null;
  stop(): Promise<void>;
}

export async function startOperatorService(o: OperatorServiceOptions): Promise<OperatorService> {
  if (!o.services.length) throw new Error('no services to serve: list their ids (FAAS_SERVICE_IDS)');
  if (o.dbPath !== ':memory:') mkdirSync(dirname(o.dbPath), { recursive: true });
  const client = new PolkadotTangleClient({ rpcUrl: o.rpcUrl, suri: o.suri, log: o.log });
  await client.connect();
  const store = new JobStore(o.dbPath);
  const { pair } = await operatorSigningKey(o.suri);
  const operator = new Operator({ client, engine: o.engine, store, signer: pair, services: new Set(o.services), log: o.log });
  const api: ApiServer | null = o.api === false ? null : await startApiServer({ log: o.log, outputs: store }, o.api ?? {});
  await operator.start();
  return {
    address: client.address,
    apiUrl: api?.url ?? null,
    stop: async () => {
      await api?.close();
      await operator.stop();
      await client.disconnect();
      store.close();
    },
  };
}
