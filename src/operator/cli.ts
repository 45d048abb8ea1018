// `npm run operator -- run`: the operator service against a chain, configured by environment:
//   FAAS_RPC_URL      chain endpoint (default ws://127.0.0.1:9944)
//   FAAS_SURI         the operator account's secret (mnemonic or dev URI); never printed
//   FAAS_SERVICE_IDS  comma-separated services to serve
//   FAAS_DB_PATH      the job store (default .faas/operator.db)
// plus the engine's FAAS_* settings (see README).
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { DockerSandboxEngine } from '../sandbox/index.js';
import { startOperatorService } from './service.js';

async function run(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'operator');
  const suri = process.env.FAAS_SURI;
  if (!suri) throw new Error('FAAS_SURI: set it to the operator account (mnemonic or dev URI such as //Bob)');
  const services = (process.env.FAAS_SERVICE_IDS ?? '').split(',').filter(Boolean).map((s) => BigInt(s.trim()));
  const dbPath = process.env.FAAS_DB_PATH ?? '.faas/operator.db';
  const engine = new DockerSandboxEngine(config, log);
  await engine.start();
  const service = await startOperatorService({ rpcUrl: process.env.FAAS_RPC_URL ?? 'ws://127.0.0.1:9944', suri, services, dbPath, engine, log });
  process.stdout.write(`operator ${service.address} serving services ${services.join(', ')} (job store ${dbPath})\n`);
  const stop = async () => {
    await service.stop();
    await engine.shutdown();
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
