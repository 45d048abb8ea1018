// A real gateway over the real engine for API and SDK tests: an embedded database (a file,
// so a restart keeps keys and usage), the API on a free port, and keys made directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, startApiServer } from '../../src/api/index.js';
import type { ApiServer, GatewayDeps } from '../../src/api/index.js';
import { loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { JobStore, openDatabase } from '../../src/store/index.js';
import type { Db, KeyStore } from '../../src/store/index.js';
import { makeSandbox } from '../helpers.js';

export interface TestGateway {
  url: string;
  port: number;
  engine: DockerSandboxEngine;
  keys: KeyStore;
  gateway: GatewayDeps;
  config: Config;
  /** Stops the API only (the engine and database stay): a gateway restart. */
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  /** A whole restart of the operator's state: the database reopened, new services over it. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'faas-gw-'));
  const config = loadConfig({ FAAS_LOG_LEVEL: 'warn', FAAS_PREWARM_LANGUAGES: 'python', FAAS_DB_PATH: join(dir, 'gw.db'), ...env });
  const log = createLogger('warn', 'test-gateway');
  const sandbox = makeSandbox(env);
  const { engine } = sandbox;
  await engine.start();
  let db: Db = openDatabase(config.dbPath);
  let gateway = createGateway(config, sandbox, db, log);
  let server: ApiServer | null = null;
  let port = 0;
  const t: TestGateway = {
    url: '',
    port: 0,
    engine,
    keys: gateway.keys,
    gateway,
    config,
    stopApi: async () => {
      await server?.close();
      server = null;
    },
    startApi: async () => {
      server = await startApiServer({ log, outputs: new JobStore(db), gateway }, { port, bodyLimit: config.api.bodyLimitBytes });
      port = Number(new URL(server.url).port);
      t.url = server.url;
      t.port = port;
    },
    reopen: async () => {
      await t.stopApi();
      db.close();
      db = openDatabase(config.dbPath);
      gateway = createGateway(config, sandbox, db, log);
      t.keys = gateway.keys;
      t.gateway = gateway;
      await t.startApi();
    },
    close: async () => {
      await server?.close();
      await engine.shutdown();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await t.startApi();
  return t;
}
