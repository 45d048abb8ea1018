// The two chain backends as the multi-operator suite (quorum.test.ts) sees them: a service of
// three operators — Bob and Dave in this process, Eve as its own operator process (to be
// SIGKILLed) — a caller, and who submitted which result. Substrate: the local node, dev accounts
// //Bob, //Dave, //Eve. EVM: tnt-core on anvil, anvil accounts 1, 2, 3, and the FaaS blueprint's
// service manager.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ApiPromise } from '@polkadot/api';
import { encodeEvmExecuteArgs, encodeExecuteArgs, operatorSigningKey } from '@faas/sdk/blueprint';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalNode } from '../../chain/src/index.js';
import { EvmAccount, submitEvmJob, tangleAbi } from '../../src/tangle/evm/index.js';
import type { SandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { send, setupFaasService, startChain } from '../chain/fixtures.js';
import type { DevKeys } from '../chain/fixtures.js';
import { InProcessEvmOperator, evmSubmitters, startEvmOperatorProcess } from '../evm/operators.js';
import { InProcessOperator, exited, freePort, startOperatorProcess, submitters } from './operators.js';

export type BackendName = 'substrate' | 'evm';

/** An in-process operator, whichever the backend. */
export interface QuorumOperator {
  start(opts?: { engine?: SandboxEngine }): Promise<void>;
  stop(): Promise<void>;
}

export interface QuorumBackend {
  name: BackendName;
  /** The operators as the chain names a result's submitter. */
  addresses: { bob: string; dave: string; eve: string };
  bob: QuorumOperator;
  dave: QuorumOperator;
  /** A client for the service, as its permitted caller. */
  client(): TangleFaaSClient;
  /** A call of job 0 (python, cached) as the permitted caller; resolves with the call id. */
  call(code: string): Promise<bigint>;
  /** Who submitted a result for the call, one entry per submission, in order. */
  submitters(callId: bigint): Promise<string[]>;
  /** Eve's operator process (its own job store at `eveDbPath`). */
  startEve(extra?: Record<string, string>): Promise<ChildProcess>;
  killEve(signal?: NodeJS.Signals): Promise<void>;
  eveDbPath: string;
  stop(): Promise<void>;
  /** What only one backend's cases use. */
  substrate?: { node: LocalNode; api: ApiPromise; keys: DevKeys; blueprintId: number; serviceId: number };
  evm?: LocalEvmFaas;
}

function eveProcess(start: (env: Record<string, string>) => Promise<ChildProcess>, env: Record<string, string>) {
  let eve: ChildProcess | null = null;
  return {
    startEve: async (extra: Record<string, string> = {}) => (eve = await start({ ...env, ...extra })),
    killEve: async (signal: NodeJS.Signals = 'SIGKILL') => {
      eve?.kill(signal);
      if (eve) await exited(eve);
      eve = null;
    },
  };
}

async function substrate(engine: SandboxEngine, dir: string): Promise<QuorumBackend> {
  const chain = await startChain();
  const { node, api, keys: k } = chain;
  const bob = new InProcessOperator('//Bob', engine, node.url);
  const dave = new InProcessOperator('//Dave', engine, node.url);
  const evePort = await freePort();
  const operators = [
    { pair: k.bob, key: await bob.key(), rpcAddress: await bob.serveApi() },
    { pair: k.dave, key: await dave.key(), rpcAddress: await dave.serveApi() },
    { pair: k.eve, key: (await operatorSigningKey('//Eve')).registeredKey, rpcAddress: `http://127.0.0.1:${evePort}` },
  ];
  const { blueprintId, serviceId } = await setupFaasService(api, { owner: k.alice, permitted: [k.charlie.address], operators });
  const eveDbPath = join(dir, 'eve-substrate.db');
  const eve = eveProcess(startOperatorProcess, { FAAS_RPC_URL: node.url, FAAS_SURI: '//Eve', FAAS_SERVICE_IDS: String(serviceId), FAAS_DB_PATH: eveDbPath, FAAS_API_PORT: String(evePort) });
  const wrap = (o: InProcessOperator): QuorumOperator => ({ start: (opts) => o.start([serviceId], opts), stop: () => o.stop() });
  return {
    name: 'substrate',
    addresses: { bob: k.bob.address, dave: k.dave.address, eve: k.eve.address },
    bob: wrap(bob),
    dave: wrap(dave),
    client: () => new TangleFaaSClient({ rpcUrl: node.url, blueprintId, account: '//Charlie' }), // service found on-chain
    call: async (code) => {
      const r = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code, language: 'python', mode: 'cached' })), k.charlie);
      return BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
    },
    submitters: async (callId) => submitters(node, api, serviceId, callId),
    ...eve,
    eveDbPath,
    stop: async () => {
      await eve.killEve('SIGTERM'); // a clean stop removes its containers
      await bob.close();
      await dave.close();
      await chain.stop();
    },
    substrate: { node, api, keys: k, blueprintId, serviceId },
  };
}

async function evm(engine: SandboxEngine, dir: string): Promise<QuorumBackend> {
  const bob = new InProcessEvmOperator(ANVIL_KEYS[1], engine);
  const dave = new InProcessEvmOperator(ANVIL_KEYS[2], engine);
  const evePort = await freePort();
  const f = await startLocalEvmFaas({ operators: 3, rpcAddresses: [await bob.serveApi(), await dave.serveApi(), `http://127.0.0.1:${evePort}`] });
  bob.chain = dave.chain = { rpcUrl: f.rpcUrl, tangle: f.addresses.tangle };
  const eveDbPath = join(dir, 'eve-evm.db');
  const eve = eveProcess(startEvmOperatorProcess, { FAAS_RPC_URL: f.rpcUrl, TANGLE_CONTRACT: f.addresses.tangle, FAAS_EVM_PRIVATE_KEY: ANVIL_KEYS[3], FAAS_SERVICE_IDS: String(f.serviceId), FAAS_DB_PATH: eveDbPath, FAAS_API_PORT: String(evePort) });
  const wrap = (o: InProcessEvmOperator): QuorumOperator => ({ start: (opts) => o.start([f.serviceId], opts), stop: () => o.stop() });
  const address = (key: `0x${string}`) => new EvmAccount(f.caller.pub, key, 31337).address;
  return {
    name: 'evm',
    addresses: { bob: address(ANVIL_KEYS[1]), dave: address(ANVIL_KEYS[2]), eve: address(ANVIL_KEYS[3]) },
    bob: wrap(bob),
    dave: wrap(dave),
    client: () => new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey }),
    call: (code) => submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeEvmExecuteArgs({ code, language: 'python', mode: 'cached' })),
    submitters: (callId) => evmSubmitters(f.caller.pub, f.addresses.tangle, f.serviceId, callId),
    ...eve,
    eveDbPath,
    stop: async () => {
      await eve.killEve('SIGTERM');
      await bob.close();
      await dave.close();
      await f.anvil.stop();
    },
    evm: f,
  };
}

/** The backend's chain with the service of three operators, all three started. */
export async function startQuorumBackend(name: BackendName, engine: SandboxEngine, dir: string): Promise<QuorumBackend> {
  const b = name === 'substrate' ? await substrate(engine, dir) : await evm(engine, dir);
  await Promise.all([b.bob.start(), b.dave.start(), b.startEve()]);
  return b;
}

/** The EVM call's record in the Tangle contract (results so far, completed). */
export function evmJobCall(f: LocalEvmFaas, callId: bigint) {
  return f.caller.pub.readContract({ address: f.addresses.tangle, abi: tangleAbi, functionName: 'getJobCall', args: [f.serviceId, callId] });
}
