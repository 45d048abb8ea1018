// A real gateway with persistent instances over the real Docker engine, on a database file so an
// operator restart can be played: `restart()` closes the API and the instance manager (the
// instance containers keep running) and builds new ones over the same database. `close()`
// stops every instance this database started, so no container outlives the tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { INSTANCE_DB_LABEL } from '../../src/sandbox/instances/index.js';
import { InstanceStore, JobStore, openDatabase } from '../../src/store/index.js';
import type { Db, KeyStore } from '../../src/store/index.js';
import { docker, makeSandbox } from '../helpers.js';

export const DEVBOX_IMAGE = process.env.FAAS_INSTANCE_IMAGE ?? 'faas-devbox:latest';

export interface InstanceGateway {
  url: string;
  config: Config;
  /** The engine under the gateway (an in-process operator can serve chain jobs with it too). */
  engine: DockerSandboxEngine;
  keys: KeyStore;
  gateway: ReturnType<typeof createGateway>;
  db: Db;
  /** An operator restart: API and instance manager closed, new ones over the same database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startInstanceGateway(env: Record<string, string> = {}): Promise<InstanceGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'faas-inst-'));
  const vars = { FAAS_LOG_LEVEL: 'warn', FAAS_PREWARM_LANGUAGES: '', FAAS_DB_PATH: join(dir, 'gw.db'), FAAS_INSTANCE_IMAGE: DEVBOX_IMAGE, FAAS_MAX_MEMORY_MB: '4096', ...env };
  const config = loadConfig(vars);
  const log = createLogger(process.env.FAAS_LOG_LEVEL ?? 'warn', 'test-instances');
  const sandbox = makeSandbox(vars);
  const engine: DockerSandboxEngine = sandbox.engine;
  await engine.start();
  let db = openDatabase(config.dbPath);
  let gateway = createGateway(config, sandbox, db, log);
  let server: ApiServer | null = null;
  let port = 0;
  const identity = new InstanceStore(db).identity();
  const listen = async () => {
    server = await startApiServer({ log, outputs: new JobStore(db), gateway }, { port, bodyLimit: config.api.bodyLimitBytes });
    port = Number(new URL(server.url).port);
    t.url = server.url;
  };
  const t: InstanceGateway = {
    url: '',
    config,
    engine,
    keys: gateway.keys,
    gateway,
    db,
    restart: async () => {
      await server?.close();
      await gateway.instanceManager.close();
      db.close();
      db = openDatabase(config.dbPath);
      gateway = createGateway(config, sandbox, db, log);
      t.db = db;
      t.gateway = gateway;
      t.keys = gateway.keys;
      await gateway.instanceManager.start();
      await listen();
    },
    close: async () => {
      for (const r of new InstanceStore(db).live()) await gateway.instanceManager.stop(r.id).catch(() => undefined);
      await server?.close();
      await gateway.instanceManager.close();
      // Whatever a failed test left: every container of this database.
      const left = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_DB_LABEL}=${identity}`] } });
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
      await engine.shutdown();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await gateway.instanceManager.start();
  await listen();
  return t;
}

/** Instance containers of this database still there. */
export async function containersOf(t: InstanceGateway): Promise<string[]> {
  const identity = new InstanceStore(t.db).identity();
  return (await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_DB_LABEL}=${identity}`] } })).map((c) => c.Id);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
