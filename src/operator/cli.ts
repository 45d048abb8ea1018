// The operator CLI (`npm run operator -- <command>`):
//   register  join the operators with a bond (if not yet) and register for the FaaS blueprint
//             with the operator's signing key and API address
//   run       the operator service: chain job calls → sandbox → signed results on-chain
//   status    where the account stands on-chain, and the local job store
//   keys create --name NAME [--requests N --window-ms MS --concurrency N --credit C]
//   keys list | keys revoke ID     API keys of the gateway (stored hashed in FAAS_DB_PATH)
//   keys credit ID AMOUNT          add credit to a key (a key at or below zero balance may not run anything)
// The account comes from FAAS_SURI (a mnemonic or dev URI such as //Bob); it is never printed.
// Flags override the environment: --rpc (FAAS_RPC_URL), --blueprint (FAAS_BLUEPRINT_ID),
// --services (FAAS_SERVICE_IDS), --api-url (FAAS_API_URL), --bond (FAAS_BOND), --db (FAAS_DB_PATH),
// --api-host/--api-port (FAAS_API_HOST/FAAS_API_PORT).
// Tangle's EVM protocol (tnt-core): --chain evm (FAAS_CHAIN=evm) with --rpc http://…,
// --tangle (TANGLE_CONTRACT) and, for register, --staking (RESTAKING_CONTRACT); the account is
// FAAS_EVM_PRIVATE_KEY (0x…, environment only).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TxSender, accountFromUri, connectApi, readOperatorStatus, registerOperator } from '../chain/index.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { installProcessGuard } from '../guard.js';
import { DockerSandboxEngine, durableState } from '../sandbox/index.js';
import { JobStore, KeyStore, UsageStore, openDatabase } from '../store/index.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { startOperatorService } from './service.js';

const USAGE = 'usage: npm run operator -- <register|run|status|keys create|keys list|keys revoke ID|keys credit ID AMOUNT> [--rpc URL] [--blueprint ID] [--services 1,2] [--api-url URL] [--bond AMOUNT] [--db PATH] [--name N --requests N --window-ms MS --concurrency N --credit C]';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rpc: { type: 'string' },
    chain: { type: 'string' },
    tangle: { type: 'string' },
    staking: { type: 'string' },
    blueprint: { type: 'string' },
    services: { type: 'string' },
    'api-url': { type: 'string' },
    'api-host': { type: 'string' },
    'api-port': { type: 'string' },
    bond: { type: 'string' },
    db: { type: 'string' },
    name: { type: 'string' },
    requests: { type: 'string' },
    'window-ms': { type: 'string' },
    concurrency: { type: 'string' },
    credit: { type: 'string' },
  },
});

const setting = (flag: keyof typeof flags, env: string, def?: string): string | undefined => (flags[flag] as string | undefined) ?? process.env[env] ?? def;
const out = (s: string) => process.stdout.write(`${s}\n`);

class UsageError extends Error {}

function required(flag: keyof typeof flags, env: string, what: string): string {
  const v = setting(flag, env);
  if (!v) throw new UsageError(`${env} (or --${flag}): ${what}`);
  return v;
}

function integer(name: string, v: string): bigint {
  if (!/^\d+$/.test(v)) throw new UsageError(`${name}: expected a whole number, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

/** The account secret, from the environment only: a flag would show in `ps`. */
function suri(): string {
  const v = process.env.FAAS_SURI;
  if (!v) throw new UsageError('FAAS_SURI: set it to the operator account (mnemonic or dev URI such as //Bob)');
  return v;
}
const isEvm = () => setting('chain', 'FAAS_CHAIN', 'substrate') === 'evm';
const rpcUrl = () => setting('rpc', 'FAAS_RPC_URL', isEvm() ? 'http://127.0.0.1:8545' : 'ws://127.0.0.1:9944')!;
function address(flag: 'tangle' | 'staking', env: string, what: string): `0x${string}` {
  const v = required(flag, env, what);
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new UsageError(`${env} (or --${flag}): expected a 0x-prefixed 20-byte address, got ${JSON.stringify(v)}`);
  return v as `0x${string}`;
}
/** The EVM account's private key, from the environment only. */
function evmKey(): `0x${string}` {
  const v = process.env.FAAS_EVM_PRIVATE_KEY;
  if (!v || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw new UsageError('FAAS_EVM_PRIVATE_KEY: set it to the operator account’s private key (0x + 64 hex digits)');
  return v as `0x${string}`;
}
const dbPath = () => setting('db', 'FAAS_DB_PATH', '.faas/operator.db')!;
// The API address: a flag, else the validated config (FAAS_API_HOST / FAAS_API_PORT).
const apiHost = () => flags['api-host'] ?? loadConfig().api.host;
const apiPort = () => (flags['api-port'] === undefined ? loadConfig().api.port : Number(integer('--api-port', flags['api-port'])));

async function registerEvm(): Promise<void> {
  const key = evmKey();
  const blueprintId = integer('FAAS_BLUEPRINT_ID', required('blueprint', 'FAAS_BLUEPRINT_ID', 'the FaaS blueprint id to register for'));
  const rpcAddress = setting('api-url', 'FAAS_API_URL', `http://${apiHost()}:${apiPort()}`)!;
  const bondText = setting('bond', 'FAAS_BOND');
  const { EvmAccount, registerEvmOperator } = await import('../chain/evm/index.js');
  const account = await EvmAccount.connect(rpcUrl(), key);
  out(`operator ${account.address} on ${rpcUrl()}`);
  const done = await registerEvmOperator(account, { tangle: address('tangle', 'TANGLE_CONTRACT', 'the Tangle contract'), staking: address('staking', 'RESTAKING_CONTRACT', 'the staking (MultiAssetDelegation) contract'), blueprintId, key: account.sender.account.publicKey, rpcAddress, ...(bondText ? { stake: integer('FAAS_BOND', bondText) } : {}) });
  for (const d of done) out(`  ${d}`);
  out(`  signing key (public, what callers verify results against): ${account.sender.account.publicKey}`);
}

async function register(): Promise<void> {
  if (isEvm()) return registerEvm();
  const secret = suri();
  const blueprintId = integer('FAAS_BLUEPRINT_ID', required('blueprint', 'FAAS_BLUEPRINT_ID', 'the FaaS blueprint id to register for'));
  const rpcAddress = setting('api-url', 'FAAS_API_URL', `http://${apiHost()}:${apiPort()}`)!;
  const bondText = setting('bond', 'FAAS_BOND');
  const api = await connectApi(rpcUrl());
  try {
    const sender = new TxSender(api, accountFromUri(api, secret));
    const { registeredKey } = await operatorSigningKey(secret);
    out(`operator ${sender.pair.address} on ${rpcUrl()}`);
    const done = await registerOperator(api, sender, { blueprintId, key: registeredKey, rpcAddress, ...(bondText ? { bond: integer('FAAS_BOND', bondText) } : {}) });
    for (const d of done) out(`  ${d}`);
    out(`  signing key (public, what callers verify results against): ${registeredKey}`);
  } finally {
    await api.disconnect();
  }
}

async function status(): Promise<void> {
  const api = await connectApi(rpcUrl());
  try {
    const address = accountFromUri(api, suri()).address;
    const s = await readOperatorStatus(api, address);
    const head = (await api.rpc.chain.getHeader()).number.toNumber();
    out(`operator ${address} on ${rpcUrl()} (head #${head})`);
    out(`  balance: free ${s.free}, reserved ${s.reserved}`);
    out(`  operator: ${s.operator ? `${s.operator.status}, stake ${s.operator.stake}` : 'not joined (run register)'}`);
    if (!s.registrations.length) out('  registered for: no blueprint');
    for (const r of s.registrations) out(`  registered for blueprint ${r.blueprintId}: API ${r.rpcAddress}`);
    out(`  services operated: ${s.services.length ? s.services.join(', ') : 'none'}`);
    const path = dbPath();
    if (existsSync(path)) {
      const store = new JobStore(path);
      const c = store.counts();
      out(`  job store ${path}: ${c.submitted} submitted, ${c.executed} executed awaiting submission, ${c.received} received; last scanned block ${store.lastBlock ?? 'none'}`);
      store.close();
    } else out(`  job store ${path}: none yet (run starts one)`);
  } finally {
    await api.disconnect();
  }
}

async function run(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'operator');
  installProcessGuard(log);
  const evm = isEvm() ? { tangle: address('tangle', 'TANGLE_CONTRACT', 'the Tangle contract') } : undefined;
  const secret = evm ? evmKey() : suri();
  const services = (setting('services', 'FAAS_SERVICE_IDS') ?? '').split(',').filter(Boolean).map((s) => integer('FAAS_SERVICE_IDS', s.trim()));
  // Stateful contexts and snapshots are kept with the job store, so they outlive this process.
  const engine = new DockerSandboxEngine(config, log, undefined, durableState(dbPath(), config.stateful.snapshotDir));
  await engine.start();
  // FAAS_TEST_CRASH_POINT is for the crash tests only: the process kills itself right there.
  const crash = process.env.FAAS_TEST_CRASH_POINT;
  const crashPoint = crash === 'after-journal' || crash === 'after-send' ? crash : undefined;
  const service = await startOperatorService({ rpcUrl: rpcUrl(), evm, suri: secret, services, dbPath: dbPath(), engine, log, follow: config.follow, api: { host: apiHost(), port: apiPort(), config }, crashPoint });
  out(`operator ${service.address} serving services ${services.join(', ')} (job store ${dbPath()}, API ${service.apiUrl})`);
  const stop = async () => {
    await service.stop();
    await engine.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function keys(): Promise<void> {
  const db = openDatabase(dbPath());
  const store = new KeyStore(db);
  const optional = (flag: keyof typeof flags, name: string) => (flags[flag] === undefined ? undefined : Number(integer(name, flags[flag] as string)));
  try {
    const sub = positionals[1];
    if (sub === 'create') {
      const name = flags.name ?? 'default';
      const credit = flags.credit === undefined ? undefined : Number(flags.credit);
      if (credit !== undefined && !(credit >= 0)) throw new UsageError(`--credit: expected a number ≥ 0, got ${JSON.stringify(flags.credit)}`);
      const { key, info } = store.create(name, { rateLimitRequests: optional('requests', '--requests'), rateLimitWindowMs: optional('window-ms', '--window-ms'), maxConcurrent: optional('concurrency', '--concurrency'), credit });
      out(`created key ${info.id} (${info.name}). Its secret, shown only now:`);
      out(key);
    } else if (sub === 'list') {
      for (const k of store.list()) {
        const limits = [k.rateLimitRequests && `${k.rateLimitRequests} req/${(k.rateLimitWindowMs ?? 60_000) / 1000}s`, k.maxConcurrent && `${k.maxConcurrent} at once`, k.credit !== null && `credit ${k.credit}`].filter(Boolean).join(', ');
        out(`${k.id}  ${k.name.padEnd(16)} created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}${limits ? `  (${limits})` : ''}`);
      }
    } else if (sub === 'revoke') {
      const id = positionals[2];
      if (!id) throw new UsageError('keys revoke: give the key id (see keys list)');
      if (!store.revoke(id)) throw new UsageError(`keys revoke: no live key with id ${id}`);
      out(`revoked key ${id}`);
    } else if (sub === 'credit') {
      const [id, amountText] = positionals.slice(2);
      const amount = Number(amountText);
      if (!id || amountText === undefined || !Number.isFinite(amount)) throw new UsageError('keys credit: give the key id and the amount to add, e.g. keys credit 0123456789ab 10');
      const credit = store.addCredit(id, amount, loadConfig().defaultCredit);
      if (credit === null) throw new UsageError(`keys credit: no key with id ${id}`);
      const balance = credit - new UsageStore(db).totals(id).cost;
      out(`key ${id}: credit ${credit}, balance ${Math.round(balance * 1e6) / 1e6}`);
    } else throw new UsageError(`keys: expected create, list, revoke or credit, got ${sub ?? 'nothing'}`);
  } finally {
    db.close();
  }
}

const commands: Record<string, () => Promise<void>> = { register, run, status, keys };
const command = commands[positionals[0] ?? 'run'];
if (!command) {
  process.stderr.write(`unknown command ${positionals[0]}\n${USAGE}\n`);
  process.exit(2);
}
command()
  .then(() => {
    if (positionals[0] !== 'run' && positionals[0] !== undefined) process.exit(0);
  })
  .catch((err: Error) => {
    process.stderr.write(`operator: ${err.message}${err instanceof UsageError ? `\n${USAGE}` : ''}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  });
