// Several operators on one service, on the local node and the real engine: each answers every
// call; the client believes a result when enough of the service's operators sign the same
// statement; an account that does not operate the service cannot front-run one; an operator
// killed before a call (or between journaling and inclusion of its result) answers what it
// missed exactly once when it comes back.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { ApiPromise } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { Codec } from '@polkadot/types/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHash, encodeExecuteArgs, encodeResult, operatorSigningKey, outputHash, signStatement } from '@faas/sdk/blueprint';
import type { LocalNode } from '../../chain/src/index.js';
import { PolkadotTangleClient } from '../../src/chain/index.js';
import type { JobCall } from '../../src/chain/index.js';
import { createLogger } from '../../src/log.js';
import type { DockerSandboxEngine, ExecuteOptions, ExecuteRequestInput, Language, SandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { JobStore } from '../../src/store/index.js';
import type { JobUpdate } from '@faas/sdk';
import { registerOperators, send, setupFaasService, startChain } from '../chain/fixtures.js';
import type { DevKeys } from '../chain/fixtures.js';
import { makeEngine, ourContainers } from '../helpers.js';
import { InProcessOperator, exited, freePort, startOperatorProcess, submitters } from './operators.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let node: LocalNode;
let api: ApiPromise;
let k: DevKeys;
let engine: DockerSandboxEngine;
let bob: InProcessOperator;
let dave: InProcessOperator;
let eve: ChildProcess | null = null;
let eveEnv: Record<string, string>;
let blueprintId: number;
let serviceId: number;
const dir = mkdtempSync('/var/tmp/opquorum-');

/** The engine, with every python stdout changed: a dishonest (or broken) operator's. */
function lyingEngine(inner: SandboxEngine): SandboxEngine {
  return {
    start: () => inner.start(),
    stats: () => inner.stats(),
    shutdown: () => inner.shutdown(),
    imageHash: (l: Language) => inner.imageHash(l),
    execute: async (req: ExecuteRequestInput, o?: ExecuteOptions) => ({ ...(await inner.execute(req, o)), stdout: 'forged\n' }),
  };
}

async function call(code: string, sid = serviceId): Promise<bigint> {
  const r = await send(api.tx.services!.call!(sid, 0, encodeExecuteArgs({ code, language: 'python', mode: 'cached' })), k.charlie);
  return BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
}

const client = () => new TangleFaaSClient({ rpcUrl: node.url, blueprintId, account: '//Charlie' });

async function startEve(extra: Record<string, string> = {}): Promise<void> {
  eve = await startOperatorProcess({ ...eveEnv, ...extra });
}

async function killEve(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  eve?.kill(signal);
  if (eve) await exited(eve);
  eve = null;
}

beforeAll(async () => {
  chain = await startChain();
  ({ node, api, keys: k } = chain);
  engine = makeEngine({ FAAS_OWNER_MAX_CONTAINERS: '4' });
  await engine.start();
  bob = new InProcessOperator('//Bob', engine, node.url);
  dave = new InProcessOperator('//Dave', engine, node.url);
  const evePort = await freePort();
  const operators = [
    { pair: k.bob, key: await bob.key(), rpcAddress: await bob.serveApi() },
    { pair: k.dave, key: await dave.key(), rpcAddress: await dave.serveApi() },
    { pair: k.eve, key: (await operatorSigningKey('//Eve')).registeredKey, rpcAddress: `http://127.0.0.1:${evePort}` },
  ];
  ({ blueprintId, serviceId } = await setupFaasService(api, { owner: k.alice, permitted: [k.charlie.address], operators }));
  eveEnv = { FAAS_RPC_URL: node.url, FAAS_SURI: '//Eve', FAAS_SERVICE_IDS: String(serviceId), FAAS_DB_PATH: join(dir, 'eve.db'), FAAS_API_PORT: String(evePort) };
  await Promise.all([bob.start([serviceId]), dave.start([serviceId]), startEve()]);
});

afterAll(async () => {
  await killEve('SIGTERM'); // a clean stop removes its containers (a killed one's go at the next start)
  await bob?.close();
  await dave?.close();
  await engine?.shutdown();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(await ourContainers()).toEqual([]);
});

describe('a service with three operators', () => {
  it('every operator answers every call; the client resolves when a majority agree, reporting each result', async () => {
    const sdk = client(); // no serviceId: found on-chain from the blueprint and the caller
    const updates: JobUpdate[] = [];
    sdk.on('jobUpdate', (u: JobUpdate) => updates.push(u));
    try {
      const jobId = await sdk.submitJob({ code: 'print(6 * 7)', language: 'python', mode: 'cached' });
      const r = await sdk.waitForResult(jobId, { timeoutMs: 60_000 });
      expect(r).toMatchObject({ stdout: '42\n', exitCode: 0, verified: true, quorum: 2, dissent: [], rejected: [] });
      expect(r.operators.length).toBeGreaterThanOrEqual(2);
      expect(updates.filter((u) => u.status === 'result').every((u) => u.operatorResult!.verified)).toBe(true);
      expect(updates.at(-1)!.status).toBe('completed');
      // All three answer, each once.
      await expect.poll(() => submitters(node, api, serviceId, jobId).sort(), { timeout: 30_000 }).toEqual([k.bob.address, k.dave.address, k.eve.address].sort());
      const all = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
      expect(all.operators.sort()).toEqual([k.bob.address, k.dave.address, k.eve.address].sort());
    } finally {
      await sdk.disconnect();
    }
  });

  it('an operator that signs a different output is reported as dissent, and a quorum it spoils is not reached', async () => {
    await dave.stop();
    await dave.start([serviceId], { engine: lyingEngine(engine) });
    try {
      const jobId = await call('print("honest")');
      await expect.poll(() => submitters(node, api, serviceId, jobId).length, { timeout: 30_000 }).toBe(3);
      const sdk = client();
      try {
        const two = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 10_000 });
        expect(two).toMatchObject({ stdout: 'honest\n', verified: true });
        expect(two.operators.sort()).toEqual([k.bob.address, k.eve.address].sort());
        expect(two.dissent.map((d) => [d.operator, d.stdout, d.verified])).toEqual([[k.dave.address, 'forged\n', true]]); // genuinely signed: evidence
        const three = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
        expect(three.verified).toBe(false);
        expect(three.verificationError).toMatch(/no quorum: 2 of the 3/);
      } finally {
        await sdk.disconnect();
      }
    } finally {
      await dave.stop();
      await dave.start([serviceId]);
    }
  });

  it('an account registered for the blueprint but not operating the service cannot front-run a result', async () => {
    // Ferdie joins and registers for the blueprint with a key of its own, but is no operator of the service.
    const ferdie = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Ferdie');
    const { pair: ferdieKey, registeredKey } = await operatorSigningKey('//Ferdie');
    await registerOperators(api, blueprintId, [{ pair: ferdie, key: registeredKey, rpcAddress: 'http://127.0.0.1:9' }]);
    // The honest operators are down when the call comes; the forger answers first, with a
    // well-formed result and a valid signature of its own over the right statement.
    await Promise.all([bob.stop(), dave.stop(), killEve()]);
    const jobId = await call('print("truth")');
    const stored = (await api.query.services!.jobCalls!(serviceId, jobId)) as unknown as { unwrap(): { args: Codec[] } };
    const forged = { exitCode: 0, stdout: 'lies\n', stderr: '' };
    const imageHash = engine.imageHash('python');
    const hash = outputHash(forged);
    const signature = signStatement(ferdieKey, { genesisHash: api.genesisHash.toHex(), blueprintId, serviceId, callId: jobId, job: 0, argsHash: argsHash([...stored.unwrap().args]), imageHash, exitCode: 0, outputHash: hash });
    await send(api.tx.services!.submitResult!(serviceId, jobId, encodeResult({ ...forged, outputHash: hash, imageHash, signature })), ferdie);
    expect(submitters(node, api, serviceId, jobId)).toEqual([ferdie.address]);
    // The honest operators come back: a result already on-chain does not silence them.
    await Promise.all([bob.start([serviceId]), dave.start([serviceId]), startEve()]);
    const sdk = client();
    try {
      const r = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 60_000 });
      expect(r).toMatchObject({ stdout: 'truth\n', verified: true });
      expect(r.operators).not.toContain(ferdie.address);
      expect(r.rejected.map((x) => [x.operator, x.trusted, x.verified])).toEqual([[ferdie.address, false, false]]);
      expect(r.rejected[0]!.verificationError).toMatch(/not an operator of service/);
    } finally {
      await sdk.disconnect();
    }
  });

  it('failover: with one operator killed before a call, the other two reach quorum; back, it answers what it missed exactly once', async () => {
    await killEve();
    const sdk = client();
    try {
      const missed = [await sdk.submitJob({ code: 'print("while eve was down")', language: 'python' }), await sdk.submitJob({ code: 'print("and again")', language: 'python' })];
      for (const jobId of missed) {
        const r = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 60_000 });
        expect(r.verified).toBe(true);
        expect(r.operators.sort()).toEqual([k.bob.address, k.dave.address].sort());
      }
      await startEve();
      for (const jobId of missed) {
        await expect.poll(() => submitters(node, api, serviceId, jobId).filter((a) => a === k.eve.address).length, { timeout: 60_000 }).toBe(1);
      }
      const all = await sdk.waitForResult(missed[0]!, { quorum: 3, timeoutMs: 10_000 });
      expect(all.operators.length).toBe(3);
      await new Promise((res) => setTimeout(res, 1500));
      for (const jobId of missed) expect(submitters(node, api, serviceId, jobId).sort()).toEqual([k.bob.address, k.dave.address, k.eve.address].sort());
    } finally {
      await sdk.disconnect();
    }
  });

  for (const point of ['after-journal', 'after-send'] as const) {
    it(`an operator killed ${point === 'after-journal' ? 'after journaling its signed result, before sending it' : 'after sending its result, before recording the inclusion'} submits exactly one result after restart`, async () => {
      await killEve();
      // Nothing else left for it to submit: the crash point must be this call's.
      const eveStore = new JobStore(eveEnv.FAAS_DB_PATH!);
      expect(eveStore.unfinished()).toEqual([]);
      eveStore.close();
      await startEve({ FAAS_TEST_CRASH_POINT: point });
      const crashed = eve!;
      const jobId = await call(`print("${point}")`);
      await exited(crashed); // it killed itself at the crash point
      expect(crashed.signalCode).toBe('SIGKILL');
      eve = null;
      const before = submitters(node, api, serviceId, jobId).filter((a) => a === k.eve.address).length;
      expect(before).toBe(point === 'after-send' ? 1 : 0);
      await startEve();
      await expect.poll(() => submitters(node, api, serviceId, jobId).filter((a) => a === k.eve.address).length, { timeout: 60_000 }).toBe(1);
      await new Promise((res) => setTimeout(res, 1500));
      expect(submitters(node, api, serviceId, jobId).filter((a) => a === k.eve.address).length).toBe(1);
    });
  }
});

describe('operator start-up', () => {
  it('subscribes before it scans stored calls: a call made during the scan is answered', async () => {
    await bob.stop();
    // A fresh store (no last block) and a chain client whose storage scan lets a call land
    // right after it read the stored calls: the window the old start-up order missed.
    const fresh = new InProcessOperator('//Bob', engine, node.url);
    let made: bigint | null = null;
    class RacingClient extends PolkadotTangleClient {
      override async storedJobCalls(ids: bigint[]): Promise<JobCall[]> {
        const calls = await super.storedJobCalls(ids);
        made = await call('print("made during the scan")');
        return calls;
      }
    }
    const racing = new RacingClient({ rpcUrl: node.url, suri: '//Bob', log: createLogger('warn') });
    try {
      await fresh.start([serviceId], { client: racing });
      expect(made).not.toBeNull();
      await expect.poll(() => submitters(node, api, serviceId, made!).includes(k.bob.address), { timeout: 30_000 }).toBe(true);
      await fresh.operator!.idle();
      expect(fresh.store.get(BigInt(serviceId), made!)?.status).toBe('submitted');
    } finally {
      await fresh.close();
      await bob.start([serviceId]);
    }
  });
});
