// `npm run operator -- run`: the operator service against a chain, configured by environment:
//   FAAS_RPC_URL      chain endpoint (default ws://127.0.0.1:9944)
//   FAAS_SURI         the operator account's secret (mnemonic or dev URI); never printed
//   FAAS_SERVICE_IDS  comma-separated services to serve
//   FAAS_DB_PATH      the job store (default .faas/operator.db)
// plus the engine's FAAS_* settings (see README).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PolkadotTangleClient } from '../chain/index.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { DockerSandboxEngine } from '../sandbox/index.js';
import { JobStore } from '../store/index.js';
import { Operator } from './operator.js';
import { operatorSigningKey } from './result.js';

async function run(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'operator');
  const suri = process.env.FAAS_SURI;
  if (!suri) throw new Error('FAAS_SURI: set it to the operator account (mnemonic or dev URI such as //Bob)');
  const services = (process.env.FAAS_SERVICE_IDS ?? '').split(',').filter(Boolean).map((s) => BigInt(s.trim()));
  if (!services.length) throw new Error('FAAS_SERVICE_IDS: list the service ids to serve, e.g. 0,3');
  const dbPath = process.env.FAAS_DB_PATH ?? '.faas/operator.db';
  if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
  const engine = new DockerSandboxEngine(config, log);
  await engine.start();
  const client = new PolkadotTangleClient({ rpcUrl: process.env.FAAS_RPC_URL ?? 'ws://127.0.0.1:9944', suri, log });
  await client.connect();
  const store = new JobStore(dbPath);
  const { pair } = await operatorSigningKey(suri);
  const operator = new Operator({ client, engine, store, signer: pair, services: new Set(services), log });
  await operator.start();
  process.stdout.write(`operator ${client.address} serving services ${services.join(', ')} (job store ${dbPath})\n`);
  const stop = async () => {
    await operator.stop();
    await client.disconnect();
    await engine.shutdown();
    store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

const command = process.argv[2] ?? 'run';
if (command !== 'run') {
  process.stderr.write(`unknown command ${command}; available: run\n`);
  process.exit(2);
}
run().catch((err: Error) => {
  process.stderr.write(`operator: ${err.message}\n`);
  process.exit(1);
});
