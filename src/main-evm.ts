// `npm start -- --chain evm`: the main job on Tangle's EVM protocol (tnt-core).
// - With no --rpc: anvil on 127.0.0.1 (FAAS_ANVIL_PORT, default a free port), the protocol
//   deployed from ../shared/tnt-core's artifacts (FAAS_TNT_CORE_DIR), the FaaS blueprint created,
//   anvil account 1 staked and registered as operator, a service requested and approved, the
//   operator serving it, and a first job submitted and verified through the EVM client.
// - With --rpc https://… --tangle 0x… (TANGLE_CONTRACT): the operator against that deployment;
//   the account is FAAS_EVM_PRIVATE_KEY, the services FAAS_SERVICE_IDS.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { startOperatorService } from './operator/index.js';
import { FIRST_JOB_LANGUAGE } from './sandbox/index.js';
import type { Sandbox } from './sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** `tangle`, `key` (FAAS_EVM_PRIVATE_KEY) and `services` are needed with `rpc`; src/main.ts has checked their form. */
export async function startEvm(o: { config: Config; log: Logger; sandbox: Sandbox; stops: Array<() => Promise<void>>; rpc?: string; tangle?: `0x${string}`; key?: `0x${string}`; services: bigint[] }): Promise<void> {
  const { config, log, sandbox, stops } = o;
  const { engine } = sandbox;
  if (o.rpc) {
    const { tangle, key, services } = o;
    if (!tangle) throw new Error('--tangle (or TANGLE_CONTRACT): the Tangle contract address is needed with --chain evm --rpc');
    if (!key) throw new Error('FAAS_EVM_PRIVATE_KEY: the operator account’s private key is needed with --chain evm --rpc');
    const registry = process.env.STATUS_REGISTRY_CONTRACT;
    if (registry !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(registry)) throw new Error('STATUS_REGISTRY_CONTRACT: expected a 0x-prefixed 20-byte address');
    const service = await startOperatorService({ rpcUrl: o.rpc, evm: { tangle, statusRegistry: registry as `0x${string}` | undefined }, suri: key, services, dbPath: config.dbPath, engine, log, follow: config.follow, api: { ...config.api, config, sandbox } });
    stops.push(() => service.stop());
    out(`\noperator ${service.address} serving services ${services.join(', ')} of Tangle ${tangle} on ${o.rpc}; API ${service.apiUrl}. Ctrl-C stops it.`);
    return;
  }
  const { startLocalEvmFaas } = await import('../chain/evm/faas.js');
  const t0 = performance.now();
  const rpcAddress = `http://${config.api.host}:${config.api.port}`;
  const f = await startLocalEvmFaas({ operators: 1, rpcAddresses: [rpcAddress], anvil: { port: Number(process.env.FAAS_ANVIL_PORT ?? 0) } });
  stops.push(() => f.anvil.stop());
  out(`\nanvil at ${f.rpcUrl}; tnt-core deployed, blueprint ${f.blueprintId} created, service ${f.serviceId} approved (${(performance.now() - t0).toFixed(0)} ms)`);
  for (const [name, address] of Object.entries(f.addresses)) out(`  ${name.padEnd(14)} ${address}`);
  out(`  ${'faasManager'.padEnd(14)} ${f.manager} (the blueprint's service manager: a call completes when every operator answered)`);
  const service = await startOperatorService({ rpcUrl: f.rpcUrl, evm: { tangle: f.addresses.tangle }, suri: f.operatorKeys[0]!, services: [f.serviceId], dbPath: ':memory:', engine, log, follow: 'best', api: { ...config.api, config, sandbox } });
  stops.push(() => service.stop());
  out(`operator ${service.address} (anvil account 1) serving service ${f.serviceId}; API ${service.apiUrl}`);
  const sdk = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey });
  await sdk.connect();
  const t = performance.now();
  const jobId = await sdk.submitJob({ code: 'print(sum(range(10)))', language: FIRST_JOB_LANGUAGE, mode: 'cached' });
  const r = await sdk.waitForResult(jobId, { timeoutMs: 60_000 });
  out(`\nfirst job through the EVM protocol: job ${jobId} → exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout)}, verified ${r.verified} by ${r.operator} (${(performance.now() - t).toFixed(0)} ms)`);
  out(`
try it (caller: anvil account 5, ${f.caller.address}):
  cast send ${f.addresses.tangle} 'submitJob(uint64,uint8,bytes)' ${f.serviceId} 0 \\
    $(cast abi-encode 'f(string,string,string,string,string,string)' 'print(6 * 7)' python cached '' '' '') \\
    --rpc-url ${f.rpcUrl} --private-key ${f.caller.privateKey}
  the result: JobResultSubmitted logs of ${f.addresses.tangle}; its bytes decode as
    (uint8 exitCode, string stdout, string stderr, bool complete, bytes32 outputHash, bytes32 imageHash, bytes signature)
Ctrl-C stops everything (anvil's chain is in memory).`);
}
