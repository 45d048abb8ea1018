// What `npm start` runs once src/main.ts has read its command line (see there for the options):
// the sandbox engine, then the local Tangle node with everything set up (or an operator against
// a real chain with --rpc, or Tangle's EVM protocol with --chain evm), and a first job verified.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { bootstrapFaasService, startNode } from '../chain/src/index.js';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { installProcessGuard } from './guard.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { startOperatorService } from './operator/index.js';
import type { OperatorService } from './operator/index.js';
import { FIRST_JOB_LANGUAGE, createSandbox, durableState, runtimeImagePlan, runtimeImageTag } from './sandbox/index.js';
import type { DevboxImage } from './sandbox/index.js';
import { finishInBackground } from './main-background.js';
import { TangleFaaSClient } from '@faas/sdk';

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
  // Only the first job's runtime image is there now (npm start's set-up builds just that one);
  // the others follow in the background once the first result is verified (main-background.ts).
  const images = runtimeImagePlan([FIRST_JOB_LANGUAGE]);
  out('starting the sandbox engine (Docker, warm pools)...');
  await engine.start(images.first);
  engine.images.expect(images.later); // executions in those languages wait for them, not fail
  const stops: Array<() => Promise<void>> = [() => engine.shutdown()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  out(`sandbox engine ready with ${images.first.map(runtimeImageTag).join(', ')}; ${images.later.map(runtimeImageTag).join(', ')} follow after the first result`);
  const finish = (devbox: DevboxImage | null) => finishInBackground({ engine, later: images.later, devbox, stops });

  if (o.chain === 'evm') {
    const { startEvm } = await import('./main-evm.js');
    await startEvm({ config, log, sandbox, stops, rpc, tangle: o.tangle, key: o.account as `0x${string}` | undefined, services: o.services });
    finish(null);
    return;
  }

  if (rpc) {
    const suri = o.account;
    if (!suri) throw new Error('FAAS_SURI: the operator account (mnemonic or dev URI) is needed with --rpc');
    const services = o.services;
    const service = await startOperatorService({ rpcUrl: rpc, suri, services, dbPath: config.dbPath, engine, log, follow: config.follow, api: { ...config.api, config, sandbox } });
    stops.push(() => service.stop());
    out(`\noperator ${service.address} serving services ${services.join(', ')} on ${rpc}; API ${service.apiUrl}. Ctrl-C stops it.`);
    finish(service.devboxImage);
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
  const jobId = await sdk.submitJob({ code: 'print(sum(range(10)))', language: FIRST_JOB_LANGUAGE, mode: 'cached' });
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
  finish(service.devboxImage);
}

