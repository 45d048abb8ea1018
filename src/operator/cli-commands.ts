// What the operator CLI's commands do (src/operator/cli.ts parses the command line and loads
// this only then, so --help and a wrong option answer without loading the chain and Docker
// clients): register, run, status, keys. The chain, sandbox and operator modules are loaded
// by the commands that use them, after their settings are checked, for the same reason.
import { existsSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { installProcessGuard } from '../guard.js';
import { JobStore, KeyStore, UsageStore, openDatabase } from '../store/index.js';
import { UsageError, evmAddress, oneOf, port, smallWholeNumber, urlWith, wholeNumber, wholeNumbers } from './cli-args.js';
import type { Settings } from './cli-args.js';
import { chainUnit, formatAmount, parseAmount, readAmount } from './units.js';
import type { TokenUnit } from './units.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** The native token of Tangle's EVM protocol (and of anvil): 18 decimals, as ether. */
const EVM_UNIT: TokenUnit = { symbol: 'TNT', decimals: 18 };

/** What a command gets: its positional arguments and its settings (options, then environment). */
export interface Invocation {
  args: string[];
  settings: Settings;
}

const DB_DEFAULT = '.faas/operator.db';
const dbPath = (s: Settings) => s.text('db') ?? DB_DEFAULT;
const isEvm = (s: Settings) => s.parse('chain', oneOf('substrate', 'evm')) === 'evm';
const rpcUrl = (s: Settings, evm: boolean) => s.parse('rpc', evm ? urlWith('http:', 'https:', 'ws:', 'wss:') : urlWith('ws:', 'wss:')) ?? (evm ? 'http://127.0.0.1:8545' : 'ws://127.0.0.1:9944');
// The API address: an option, else FAAS_API_HOST / FAAS_API_PORT, else the config's defaults.
const apiHost = (s: Settings) => s.text('api-host') ?? loadConfig().api.host;
const apiPort = (s: Settings) => s.parse('api-port', port) ?? loadConfig().api.port;

/** The account secret, from the environment only. */
function suri(): string {
  const v = process.env.FAAS_SURI;
  if (!v) throw new UsageError('FAAS_SURI is needed: set it to the operator account (mnemonic or dev URI such as //Bob)');
  return v;
}

/** The EVM account's private key, from the environment only. */
function evmKey(): `0x${string}` {
  const v = process.env.FAAS_EVM_PRIVATE_KEY;
  if (!v || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw new UsageError('FAAS_EVM_PRIVATE_KEY is needed: the operator account’s private key (0x + 64 hex digits)');
  return v as `0x${string}`;
}

async function registerEvm({ settings: s }: Invocation): Promise<void> {
  const blueprintId = s.parseRequired('blueprint', 'the FaaS blueprint id to register for', wholeNumber);
  const tangle = s.parseRequired('tangle', 'the Tangle contract', evmAddress);
  const staking = s.parseRequired('staking', 'the staking (MultiAssetDelegation) contract', evmAddress);
  const stake = s.parse('bond', (t) => parseAmount(t, EVM_UNIT));
  const rpcAddress = s.parse('api-url', urlWith('http:', 'https:')) ?? `http://${apiHost(s)}:${apiPort(s)}`;
  const rpc = rpcUrl(s, true);
  const key = evmKey();
  const { EvmAccount, registerEvmOperator } = await import('../tangle/evm/index.js');
  const account = await EvmAccount.connect(rpc, key);
  out(`operator ${account.address} on ${rpc}`);
  const done = await registerEvmOperator(account, { tangle, staking, blueprintId, key: account.sender.account.publicKey, rpcAddress, ...(stake !== undefined ? { stake } : {}) });
  for (const d of done) out(`  ${d.replace(/^staked (\d+) wei/, (_, wei: string) => `staked ${formatAmount(BigInt(wei), EVM_UNIT)}`)}`);
  out(`  signing key (public, what callers verify results against): ${account.sender.account.publicKey}`);
}

async function register(inv: Invocation): Promise<void> {
  const s = inv.settings;
  if (isEvm(s)) return registerEvm(inv);
  const blueprintId = s.parseRequired('blueprint', 'the FaaS blueprint id to register for', wholeNumber);
  s.parse('bond', (t) => readAmount(t)); // its form, before connecting; the amount once the decimals are known
  const rpcAddress = s.parse('api-url', urlWith('http:', 'https:')) ?? `http://${apiHost(s)}:${apiPort(s)}`;
  const rpc = rpcUrl(s, false);
  const secret = suri();
  const [{ TxSender, accountFromUri, readOperatorStatus, registerOperator }, { operatorSigningKey }, { CommandError, connectOnce, describeChainFailure, errorDocs }] = await Promise.all([import('../tangle/index.js'), import('@faas/sdk/blueprint'), import('./cli-chain.js')]);
  const api = await connectOnce(rpc);
  try {
    const unit = chainUnit(api.registry);
    const bond = s.parse('bond', (t) => parseAmount(t, unit));
    const sender = new TxSender(api, accountFromUri(api, secret));
    const { registeredKey } = await operatorSigningKey(secret);
    out(`operator ${sender.pair.address} on ${rpc}`);
    const before = await readOperatorStatus(api, sender.pair.address);
    try {
      await registerOperator(api, sender, { blueprintId, key: registeredKey, rpcAddress, ...(bond !== undefined ? { bond } : {}) });
    } catch (err) {
      throw new CommandError(describeChainFailure(err, errorDocs(api)));
    }
    const after = await readOperatorStatus(api, sender.pair.address);
    if (!before.operator && after.operator) out(`  joined the operators with a bond of ${formatAmount(after.operator.stake, unit)}`);
    const existing = before.registrations.find((r) => r.blueprintId === blueprintId);
    out(existing ? `  already registered for blueprint ${blueprintId} (API ${existing.rpcAddress})` : `  registered for blueprint ${blueprintId} with API ${rpcAddress}`);
    out(`  signing key (public, what callers verify results against): ${registeredKey}`);
  } finally {
    await api.disconnect();
  }
}

async function status({ settings: s }: Invocation): Promise<void> {
  if (process.env.FAAS_CHAIN === 'evm') throw new UsageError('status reads a Tangle (Substrate) node; it is not available with FAAS_CHAIN=evm yet');
  const rpc = rpcUrl(s, false);
  const path = dbPath(s);
  const secret = suri();
  const [{ accountFromUri, readOperatorStatus }, { connectOnce }] = await Promise.all([import('../tangle/index.js'), import('./cli-chain.js')]);
  const api = await connectOnce(rpc);
  try {
    const unit = chainUnit(api.registry);
    const amount = (raw: bigint) => formatAmount(raw, unit);
    const address = accountFromUri(api, secret).address;
    const st = await readOperatorStatus(api, address);
    const head = (await api.rpc.chain.getHeader()).number.toNumber();
    out(`operator ${address} on ${rpc} (head #${head})`);
    out(`  balance: free ${amount(st.free)}, reserved ${amount(st.reserved)}`);
    out(`  operator: ${st.operator ? `${st.operator.status}, stake ${amount(st.operator.stake)}` : 'not joined (run register)'}`);
    if (!st.registrations.length) out('  registered for: no blueprint');
    for (const r of st.registrations) out(`  registered for blueprint ${r.blueprintId}: API ${r.rpcAddress}`);
    out(`  services operated: ${st.services.length ? st.services.join(', ') : 'none'}`);
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

/** Runs until a signal; resolves once serving. */
async function run({ settings: s }: Invocation): Promise<void> {
  const heartbeat = process.env.FAAS_HEARTBEAT_MS;
  if (heartbeat !== undefined && !/^\d+$/.test(heartbeat)) throw new UsageError(`FAAS_HEARTBEAT_MS: expected whole milliseconds (0: no heartbeats), got ${JSON.stringify(heartbeat)}`);
  const evm = isEvm(s)
    ? {
        tangle: s.parseRequired('tangle', 'the Tangle contract', evmAddress),
        statusRegistry: s.parse('status-registry', evmAddress),
        fromBlock: s.parse('from-block', smallWholeNumber),
        heartbeatMs: heartbeat === undefined ? undefined : Number(heartbeat),
      }
    : undefined;
  const services = s.parse('services', wholeNumbers) ?? [];
  const rpc = rpcUrl(s, evm !== undefined);
  const path = dbPath(s);
  const api = { host: apiHost(s), port: apiPort(s) };
  const secret = evm ? evmKey() : suri();
  const config = loadConfig();
  const [{ createSandbox, durableState }, { startOperatorService }] = await Promise.all([import('../sandbox/index.js'), import('./service.js')]);
  const log = createLogger(config.logLevel, 'operator');
  installProcessGuard(log);
  // Stateful contexts and snapshots are kept with the job store, so they outlive this process.
  const sandbox = createSandbox(config, { log, state: durableState(path, config.stateful.snapshotDir) });
  const { engine } = sandbox;
  await engine.start();
  // FAAS_TEST_CRASH_POINT is for the crash tests only: the process kills itself right there.
  const crash = process.env.FAAS_TEST_CRASH_POINT;
  const crashPoint = crash === 'after-journal' || crash === 'after-send' ? crash : undefined;
  const service = await startOperatorService({ rpcUrl: rpc, evm, suri: secret, services, dbPath: path, engine, log, follow: config.follow, api: { ...api, config, sandbox }, crashPoint });
  out(`operator ${service.address} serving services ${services.join(', ')} (job store ${path}, API ${service.apiUrl})`);
  const stop = async () => {
    await service.stop();
    await engine.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

const credit = (t: string) => {
  const n = Number(t);
  if (t.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new Error(`expected a number ≥ 0, got ${JSON.stringify(t)}`);
  return n;
};

function keys(sub: 'create' | 'list' | 'revoke' | 'credit', { args, settings: s }: Invocation): void {
  // The settings are checked before the database is opened (or created).
  const limits = sub === 'create' ? { rateLimitRequests: s.parse('requests', smallWholeNumber), rateLimitWindowMs: s.parse('window-ms', smallWholeNumber), maxConcurrent: s.parse('concurrency', smallWholeNumber), credit: s.parse('credit', credit) } : {};
  const db = openDatabase(dbPath(s));
  const store = new KeyStore(db);
  try {
    if (sub === 'create') {
      const { key, info } = store.create(s.text('name') ?? 'default', limits);
      out(`created key ${info.id} (${info.name}). Its secret, shown only now:`);
      out(key);
    } else if (sub === 'list') {
      for (const k of store.list()) {
        const limits = [k.rateLimitRequests && `${k.rateLimitRequests} req/${(k.rateLimitWindowMs ?? 60_000) / 1000}s`, k.maxConcurrent && `${k.maxConcurrent} at once`, k.credit !== null && `credit ${k.credit}`].filter(Boolean).join(', ');
        out(`${k.id}  ${k.name.padEnd(16)} created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}${limits ? `  (${limits})` : ''}`);
      }
    } else if (sub === 'revoke') {
      const id = args[0]!;
      if (!store.revoke(id)) throw new UsageError(`no live key with id ${id}`);
      out(`revoked key ${id}`);
    } else if (sub === 'credit') {
      const [id, amountText] = args as [string, string];
      const amount = Number(amountText);
      if (amountText.trim() === '' || !Number.isFinite(amount)) throw new UsageError(`AMOUNT: expected a number, e.g. keys credit 0123456789ab 10; got ${JSON.stringify(amountText)}`);
      const total = store.addCredit(id, amount, loadConfig().defaultCredit);
      if (total === null) throw new UsageError(`no key with id ${id}`);
      const balance = total - new UsageStore(db).totals(id).cost;
      out(`key ${id}: credit ${total}, balance ${Math.round(balance * 1e6) / 1e6}`);
    }
  } finally {
    db.close();
  }
}


/** The commands by their words (`register`, `keys create`, …), as cli-spec.ts declares them. */
export const ACTIONS: Record<string, (inv: Invocation) => Promise<void> | void> = {
  register,
  run,
  status,
  'keys create': (inv) => keys('create', inv),
  'keys list': (inv) => keys('list', inv),
  'keys revoke': (inv) => keys('revoke', inv),
  'keys credit': (inv) => keys('credit', inv),
};
