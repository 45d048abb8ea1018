// What `npm start` runs once src/main.ts has read its command line (see there for the options):
// the sandbox engine, then the local Tangle node with everything set up (or an operator against
// a real chain with --rpc, or Tangle's EVM protocol with --chain evm), and a first job verified.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { bootstrapFaasService, startNode } from '../chain/src/index.js';
import { loadConfig } from './config.js';
import { FaaSError } from '@faas/sdk/errors';
import { createLogger } from './log.js';
import { installProcessGuard } from './guard.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { startOperatorService } from './operator/index.js';
import type { OperatorService } from './operator/index.js';
import { LANGUAGES, createSandbox, durableState } from './sandbox/index.js';
import type { DevboxImage, Language } from './sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';

const HELLO: Record<Language, string> = {
  python: 'import sys; print(f"hello from python {sys.version.split()[0]}")',
  javascript: 'console.log(`hello from javascript (node ${process.version})`)',
  typescript: 'const greet = (who: string): string => `hello from ${who}`;\nconsole.log(greet("typescript"));',
  bash: 'echo "hello from bash $BASH_VERSION"',
  go: 'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n)\n\nfunc main() { fmt.Println("hello from go", runtime.Version()) }\n',
};

const out = (s: string) => process.stdout.write(`${s}\n`);

/** The dev accounts that operate the local service, in order (//Alice owns it, //Charlie calls it). */
const LOCAL_OPERATORS = ['//Bob', '//Dave', '//Eve', '//Ferdie'];

/** What src/main.ts read from its command line and environment, checked. */
export interface StackOptions {
  chain: 'substrate' | 'evm';
  /** A real chain to serve instead of the local node or anvil. */
  rpc?: string;
  /** With `rpc`: the operator's account (FAAS_SURI, or the EVM private key) and its services. */
  account?: string;
  services: bigint[];
  /** With `chain: 'evm'` and `rpc`: the Tangle contract. */
  tangle?: `0x${string}`;
  /** Operators of the local service (1 to LOCAL_OPERATORS.length). */
  operators: number;
}

export async function startStack(o: StackOptions): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  installProcessGuard(log);
  const rpc = o.rpc;
  // Against a real chain, contexts and snapshots are kept with the job store and outlive this
  // process; the embedded demo keeps them only while it runs.
  const sandbox = createSandbox(config, { log, state: rpc ? durableState(config.dbPath, config.stateful.snapshotDir) : undefined });
  const { engine } = sandbox;
  out('starting the sandbox engine (Docker, warm pools)...');
  await engine.start();
  const stops: Array<() => Promise<void>> = [() => engine.shutdown()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  out('\nthe engine, one hello world per language (cached mode):');
  for (const language of LANGUAGES) {
    const t = performance.now();
    try {
      const r = await engine.execute({ code: HELLO[language], language, mode: 'cached' }, { owner: 'demo' });
      out(`  ${language.padEnd(11)} ${(performance.now() - t).toFixed(1).padStart(7)} ms  ${(r.stdout || r.stderr).trim()}`);
    } catch (err) {
      out(`  ${language.padEnd(11)} failed: ${err instanceof FaaSError ? `${err.code}: ${err.message}` : String(err)}`);
    }
  }

  if (o.chain === 'evm') {
    const { startEvm } = await import('./main-evm.js');
    await startEvm({ config, log, sandbox, stops, rpc, tangle: o.tangle, key: o.account as `0x${string}` | undefined, services: o.services });
    return;
  }

  if (rpc) {
    const suri = o.account;
    if (!suri) throw new Error('FAAS_SURI: the operator account (mnemonic or dev URI) is needed with --rpc');
    const services = o.services;
    const service = await startOperatorService({ rpcUrl: rpc, suri, services, dbPath: config.dbPath, engine, log, follow: config.follow, api: { ...config.api, config, sandbox } });
    stops.push(() => service.stop());
    out(`\noperator ${service.address} serving services ${services.join(', ')} on ${rpc}; API ${service.apiUrl}. Ctrl-C stops it.`);
    prepareDevboxInBackground(service.devboxImage);
    return;
  }

  // Embedded defaults: a local chain with everything set up.
  const node = await startNode({ port: Number(process.env.FAAS_CHAIN_PORT ?? 9944) });
  stops.push(() => node.stop());
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: node.runtime.ss58Prefix });
  const [alice, charlie] = ['//Alice', '//Charlie'].map((u) => keyring.addFromUri(u)) as [ReturnType<Keyring['addFromUri']>, ReturnType<Keyring['addFromUri']>];
  const api = await ApiPromise.create({ provider: new WsProvider(node.url), noInitWarn: true });
  stops.push(() => api.disconnect());
  // --operators N: N operators on the one service (//Bob first, then //Dave, //Eve, //Ferdie),
  // each with its own chain client, job store, signing key and API port; one engine serves them.
  const count = o.operators;
  if (!(count >= 1 && count <= LOCAL_OPERATORS.length)) throw new Error(`--operators: from 1 to ${LOCAL_OPERATORS.length}, got ${count}`);
  const operators = await Promise.all(
    LOCAL_OPERATORS.slice(0, count).map(async (suri, i) => ({
      suri,
      pair: keyring.addFromUri(suri),
      key: (await operatorSigningKey(suri)).registeredKey,
      port: config.api.port + i,
      rpcAddress: `http://${config.api.host}:${config.api.port + i}`,
    })),
  );
  const { blueprintId, serviceId } = await bootstrapFaasService(api, { owner: alice, permitted: [charlie.address], operators: operators.map((o) => ({ pair: o.pair, key: o.key, rpcAddress: o.rpcAddress })) });
  const services: OperatorService[] = [];
  for (const [i, o] of operators.entries()) {
    // The first operator's API is the whole gateway; the others serve their outputs and job status.
    const api = i === 0 ? { ...config.api, config, sandbox } : { host: config.api.host, port: o.port };
    const s = await startOperatorService({ rpcUrl: node.url, suri: o.suri, services: [BigInt(serviceId)], dbPath: ':memory:', engine, log, api });
    stops.push(() => s.stop());
    services.push(s);
  }
  const service = services[0]!;
  const devKey = service.keys!.create('dev').key;

  out(`\nlocal Tangle node (${node.runtime.version.specName} ${node.runtime.version.specVersion}) at ${node.url}`);
  out(`operator API (FaaS gateway) at ${service.apiUrl}  (docs: ${service.apiUrl}/docs)`);
  out(`dev API key: ${devKey}`);
  out(`blueprint ${blueprintId} created by //Alice; ${operators.map((o, i) => `${o.suri} (${o.pair.address}, API ${services[i]!.apiUrl})`).join(', ')} operate${count === 1 ? 's' : ''} service ${serviceId}; //Charlie may call it`);

  const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId, serviceId, account: '//Charlie' });
  await sdk.connect();
  stops.push(() => sdk.disconnect());
  const t = performance.now();
  const jobId = await sdk.submitJob({ code: 'print(sum(range(10)))', language: 'python', mode: 'cached' });
  const r = await sdk.waitForResult(jobId, { timeoutMs: 60_000 });
  out(`\nfirst job through the chain: job ${jobId} → exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout)}, verified ${r.verified} by ${r.operators.length} of ${count} operator${count === 1 ? '' : 's'} (quorum ${r.quorum}) (${(performance.now() - t).toFixed(0)} ms)`);

  out(`
try it:
  polkadot.js apps → Settings: custom endpoint ${node.url}
  Developer → Extrinsics → //Charlie → services → call(serviceId ${serviceId}, job 0, args):
    six String fields: code, language, mode, resources JSON, envVars JSON, stdin
    e.g. "print(1)", "python", "cached", "", "", ""
  or from code: new TangleFaaSClient({ rpcUrl: '${node.url}', blueprintId: ${blueprintId}, serviceId: ${serviceId}, account: '//Charlie' })
  or straight to the gateway:
    curl -s ${service.apiUrl}/v1/executions -H 'authorization: Bearer ${devKey}' -H 'content-type: application/json' \\
      -d '{"code": "print(6 * 7)", "language": "python", "mode": "cached"}'
    new FaaSClient({ endpoint: '${service.apiUrl}', apiKey: '${devKey}' }).execute({ code: 'print(1)', language: 'python' })
Ctrl-C stops everything (the local chain is in memory).`);
  prepareDevboxInBackground(service.devboxImage);
}

/**
 * Once the main job serves: the devbox image of persistent instances, built (or brought up to
 * date) in the background, so the first result never waits for it (issue 14). An instance
 * started before it is ready waits for this build or answers with its progress.
 */
function prepareDevboxInBackground(image: DevboxImage | null): void {
  if (!image) return;
  const s = image.status();
  out(`\npersistent instances: checking the devbox image ${s.image} in the background (a first build takes about 5 minutes; log: ${s.log})`);
  const t = performance.now();
  void image.prepare().then(() => {
    const end = image.status();
    const secs = ((performance.now() - t) / 1000).toFixed(0);
    if (end.state === 'ready') out(`devbox image ${end.image} ready (${secs} s): persistent instances can start`);
    else if (end.state === 'failed') out(`devbox image ${end.image} could not be built (${end.error}); log: ${end.log}. Instances will try again on their first start.`);
  });
}
