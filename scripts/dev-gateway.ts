// A real gateway for SDK tests and trying things out: the engine on the local Docker host, an
// in-memory database, the API on a free port (or FAAS_API_PORT), and three keys. Prints one
// JSON line {endpoint, apiKey, apiKey2, apiKeyLimited} and runs until killed.
import { createGateway, startApiServer } from '../src/api/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createSandbox } from '../src/sandbox/index.js';
import { JobStore, openDatabase } from '../src/store/index.js';

const config = loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', ...process.env });
const log = createLogger(config.logLevel, 'gateway');
const sandbox = createSandbox(config, { log });
const { engine } = sandbox;
await engine.start();
const db = openDatabase(':memory:');
const gateway = createGateway(config, sandbox, db, log);
const server = await startApiServer({ log, outputs: new JobStore(db), gateway }, { host: '127.0.0.1', port: Number(process.env.FAAS_API_PORT ?? 0), bodyLimit: config.api.bodyLimitBytes });
const keys = {
  endpoint: server.url,
  apiKey: gateway.keys.create('dev').key,
  apiKey2: gateway.keys.create('dev-2').key,
  apiKeyLimited: gateway.keys.create('dev-limited', { rateLimitRequests: 3, rateLimitWindowMs: 60_000 }).key,
};
process.stdout.write(`${JSON.stringify(keys)}\n`);
const stop = async () => {
  await server.close();
  await engine.shutdown();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
