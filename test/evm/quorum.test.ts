// Several operators on one service of Tangle's EVM protocol (tnt-core on anvil, the real
// contracts and the real engine) — the EVM counterpart of test/operator/quorum.test.ts, same
// cases in the same order: each operator answers every call (the blueprint's FaaSServiceManager
// keeps a call open until every operator of the service has answered); the client believes a
// result when enough of the service's operators sign the same statement; a lying operator is
// dissent; an account outside the service cannot submit; an operator SIGKILLed mid-job leaves
// the quorum to the other two and answers exactly once when it is back; a quorum the service
// owner set completes a call early, and the late operator then stands down.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvmExecuteArgs } from '../../blueprint/index.js';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { setRequiredResults, startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { managerAbi } from '../../chain/evm/manager.js';
import { EvmAccount, submitEvmJob, tangleAbi } from '../../src/chain/evm/index.js';
import type { DockerSandboxEngine, ExecuteOptions, ExecuteRequestInput, Language, SandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '../../src/sdk/tangle-client.js';
import type { JobUpdate } from '../../src/sdk/index.js';
import { JobStore } from '../../src/store/index.js';
import { makeEngine, ourContainers } from '../helpers.js';
import { exited, freePort } from '../operator/operators.js';
import { InProcessEvmOperator, evmSubmitters, startEvmOperatorProcess } from './operators.js';

let f: LocalEvmFaas;
let engine: DockerSandboxEngine;
let bob: InProcessEvmOperator;
let dave: InProcessEvmOperator;
let eve: ChildProcess | null = null;
let eveEnv: Record<string, string>;
const [BOB, DAVE, EVE] = [ANVIL_KEYS[1], ANVIL_KEYS[2], ANVIL_KEYS[3]];
const dir = mkdtempSync('/var/tmp/evmquorum-');

/** The engine, with every stdout changed: a dishonest (or broken) operator's. */
function lyingEngine(inner: SandboxEngine): SandboxEngine {
  return {
    start: () => inner.start(),
    stats: () => inner.stats(),
    shutdown: () => inner.shutdown(),
    imageHash: (l: Language) => inner.imageHash(l),
    execute: async (req: ExecuteRequestInput, o?: ExecuteOptions) => ({ ...(await inner.execute(req, o)), stdout: 'forged\n' }),
  };
}

const addr = (k: `0x${string}`) => new EvmAccount(f.caller.pub, k, 31337).address;
const client = () => new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey });
const submitters = (callId: bigint) => evmSubmitters(f.caller.pub, f.addresses.tangle, f.serviceId, callId);
const jobCall = (callId: bigint) => f.caller.pub.readContract({ address: f.addresses.tangle, abi: tangleAbi, functionName: 'getJobCall', args: [f.serviceId, callId] });
const call = (code: string) => submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeEvmExecuteArgs({ code, language: 'python', mode: 'cached' }));

async function startEve(extra: Record<string, string> = {}): Promise<void> {
  eve = await startEvmOperatorProcess({ ...eveEnv, ...extra });
}

async function killEve(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  eve?.kill(signal);
  if (eve) await exited(eve);
  eve = null;
}

beforeAll(async () => {
  engine = makeEngine({ FAAS_OWNER_MAX_CONTAINERS: '4' });
  await engine.start();
  bob = new InProcessEvmOperator(BOB, engine);
  dave = new InProcessEvmOperator(DAVE, engine);
  const evePort = await freePort();
  f = await startLocalEvmFaas({ operators: 3, rpcAddresses: [await bob.serveApi(), await dave.serveApi(), `http://127.0.0.1:${evePort}`] });
  bob.chain = dave.chain = { rpcUrl: f.rpcUrl, tangle: f.addresses.tangle };
  eveEnv = { FAAS_RPC_URL: f.rpcUrl, TANGLE_CONTRACT: f.addresses.tangle, FAAS_EVM_PRIVATE_KEY: EVE, FAAS_SERVICE_IDS: String(f.serviceId), FAAS_DB_PATH: join(dir, 'eve.db'), FAAS_API_PORT: String(evePort) };
  await Promise.all([bob.start([f.serviceId]), dave.start([f.serviceId]), startEve()]);
});

afterAll(async () => {
  await killEve('SIGTERM'); // a clean stop removes its containers
  await bob?.close();
  await dave?.close();
  await engine?.shutdown();
  await f?.anvil.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(await ourContainers()).toEqual([]);
});

describe('an EVM service with three operators', () => {
  it('every operator answers every call; the client resolves when a majority agree, reporting each result', async () => {
    expect(await f.caller.pub.readContract({ address: f.manager, abi: managerAbi, functionName: 'getRequiredResultCount', args: [f.serviceId, 0] })).toBe(3);
    const sdk = client();
    const updates: JobUpdate[] = [];
    sdk.on('jobUpdate', (u: JobUpdate) => updates.push(u));
    const jobId = await sdk.submitJob({ code: 'print(6 * 7)', language: 'python', mode: 'cached' });
    const r = await sdk.waitForResult(jobId, { timeoutMs: 60_000 });
    expect(r).toMatchObject({ stdout: '42\n', exitCode: 0, verified: true, quorum: 2, dissent: [], rejected: [] });
    expect(r.operators.length).toBeGreaterThanOrEqual(2);
    expect(updates.filter((u) => u.status === 'result').every((u) => u.operatorResult!.verified)).toBe(true);
    expect(updates.at(-1)!.status).toBe('completed');
    // All three answer, each once; the third result completes the call.
    await expect.poll(async () => (await submitters(jobId)).sort(), { timeout: 30_000 }).toEqual([addr(BOB), addr(DAVE), addr(EVE)].sort());
    expect(await jobCall(jobId)).toMatchObject({ resultCount: 3, completed: true });
    const all = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
    expect(all.operators.sort()).toEqual([addr(BOB), addr(DAVE), addr(EVE)].sort());
  });

  it('an operator that signs a different output is reported as dissent, and a quorum it spoils is not reached', async () => {
    await dave.stop();
    await dave.start([f.serviceId], { engine: lyingEngine(engine) });
    try {
      const jobId = await call('print("honest")');
      await expect.poll(async () => (await submitters(jobId)).length, { timeout: 30_000 }).toBe(3);
      const sdk = client();
      const two = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 10_000 });
      expect(two).toMatchObject({ stdout: 'honest\n', verified: true });
      expect(two.operators.sort()).toEqual([addr(BOB), addr(EVE)].sort());
      expect(two.dissent.map((d) => [d.operator, d.stdout, d.verified])).toEqual([[addr(DAVE), 'forged\n', true]]); // genuinely signed: evidence
      const three = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
      expect(three.verified).toBe(false);
      expect(three.verificationError).toMatch(/no quorum: 2 of the 3/);
    } finally {
      await dave.stop();
      await dave.start([f.serviceId]);
    }
  });

  it('an account outside the service cannot submit a result: the contract refuses it', async () => {
    const outsider = await EvmAccount.connect(f.rpcUrl, ANVIL_KEYS[4]);
    const jobId = await call('print("truth")');
    await expect(outsider.sender.send({ to: f.addresses.tangle, abi: tangleAbi, functionName: 'submitResult', args: [f.serviceId, jobId, '0x'] })).rejects.toThrow(/OperatorNotInService/);
    const r = await client().waitForResult(jobId, { quorum: 3, timeoutMs: 60_000 });
    expect(r).toMatchObject({ stdout: 'truth\n', verified: true, rejected: [] });
  });

  it('failover: one operator SIGKILLed mid-job, the other two reach quorum and the call stays open; back, it answers exactly once', async () => {
    const sdk = client();
    const jobId = await sdk.submitJob({ code: 'import time\ntime.sleep(2)\nprint("while eve was down")', language: 'python', mode: 'cached' });
    await new Promise((res) => setTimeout(res, 1000)); // running in its sandboxes now
    await killEve();
    const r = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 60_000 });
    expect(r.verified).toBe(true);
    expect(r.operators.sort()).toEqual([addr(BOB), addr(DAVE)].sort());
    expect(await jobCall(jobId)).toMatchObject({ resultCount: 2, completed: false }); // waiting for eve
    await startEve();
    await expect.poll(async () => (await submitters(jobId)).filter((a) => a === addr(EVE)).length, { timeout: 60_000 }).toBe(1);
    expect(await jobCall(jobId)).toMatchObject({ resultCount: 3, completed: true });
    expect((await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 })).verified).toBe(true);
    await new Promise((res) => setTimeout(res, 1500));
    expect((await submitters(jobId)).sort()).toEqual([addr(BOB), addr(DAVE), addr(EVE)].sort());
  });

  it('a quorum the service owner set (2 of 3) completes a call at two results; the late operator records it as done, submitting nothing', async () => {
    await setRequiredResults(f.deployer, f.manager, f.serviceId, 2);
    try {
      expect(await f.caller.pub.readContract({ address: f.manager, abi: managerAbi, functionName: 'getRequiredResultCount', args: [f.serviceId, 0] })).toBe(2);
      await killEve();
      const jobId = await call('print("two suffice")');
      await expect.poll(async () => (await jobCall(jobId)).completed, { timeout: 60_000 }).toBe(true);
      expect((await submitters(jobId)).sort()).toEqual([addr(BOB), addr(DAVE)].sort());
      await startEve();
      const eveStore = new JobStore(eveEnv.FAAS_DB_PATH!);
      try {
        await expect.poll(() => eveStore.get(f.serviceId, jobId)?.status, { timeout: 60_000 }).toBe('submitted');
      } finally {
        eveStore.close();
      }
      expect(await submitters(jobId)).toHaveLength(2);
      expect((await client().waitForResult(jobId, { timeoutMs: 10_000 })).verified).toBe(true);
    } finally {
      await setRequiredResults(f.deployer, f.manager, f.serviceId, 0);
    }
  });
});
