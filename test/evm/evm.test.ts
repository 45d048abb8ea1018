// The EVM backend end to end: anvil, tnt-core's real contracts deployed from the artifacts, the
// FaaS blueprint, an operator staked and registered, a service approved; job calls become
// verified results through the EVM TangleFaaSClient. Also: malformed inputs get an error
// result, another blueprint's calls are ignored, a tampered output fails verification, a restart
// answers what came meanwhile exactly once, and anvil restarted from its dumped state is caught
// up on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeAbiParameters, parseAbiParameters } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVM_INPUT_TYPES, encodeEvmExecuteArgs } from '@faas/sdk/blueprint';
import { startAnvil } from '../../chain/evm/anvil.js';
import { createFaasBlueprint, startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { EvmAccount, EvmTangleClient, approveEvmService, registerEvmOperator, requestEvmService, submitEvmJob } from '../../src/tangle/evm/index.js';
import { createLogger } from '../../src/log.js';
import { Operator } from '../../src/operator/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient, fetchFullOutput } from '@faas/sdk';
import { JobStore } from '../../src/store/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

const log = createLogger('warn');
let f: LocalEvmFaas;
let engine: DockerSandboxEngine;
let store: JobStore;
let client: EvmTangleClient;
let operator: Operator;
let apiServer: ApiServer;
let sdk: TangleFaaSClient;
const stateDir = mkdtempSync(path.join(tmpdir(), 'faas-anvil-'));
const statePath = path.join(stateDir, 'state.json');

async function startOperator(): Promise<Operator> {
  const op = new Operator({ client, engine, store, signer: { evmPrivateKey: f.operatorKeys[0]! }, services: new Set([f.serviceId]), log });
  await op.start();
  return op;
}

/** Results the operator submitted for a call, from the contract's logs. */
async function submissions(serviceId: bigint, callId: bigint): Promise<number> {
  const { tangleAbi } = await import('../../src/tangle/evm/index.js');
  const event = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;
  return (await f.caller.pub.getLogs({ address: f.addresses.tangle, event, args: { serviceId, callId }, fromBlock: 0n })).length;
}

beforeAll(async () => {
  store = new JobStore();
  apiServer = await startApiServer({ log, outputs: { output: (h) => store.output(h), get: (s, c) => store.get(s, c) } }, { port: 0 });
  const t = Date.now();
  f = await startLocalEvmFaas({ operators: 1, rpcAddresses: [apiServer.url], anvil: { dumpState: statePath } });
  log.warn({ ms: Date.now() - t }, 'anvil + tnt-core + blueprint + service');
  engine = makeEngine();
  await engine.start();
  client = new EvmTangleClient({ rpcUrl: f.rpcUrl, privateKey: f.operatorKeys[0]!, tangle: f.addresses.tangle, log, pollMs: 20 });
  await client.connect();
  operator = await startOperator();
  sdk = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey });
  await sdk.connect();
});

afterAll(async () => {
  await operator?.stop();
  await client?.disconnect();
  await apiServer?.close();
  await engine?.shutdown();
  await f?.anvil.stop();
  rmSync(stateDir, { recursive: true, force: true });
  expect(await ourContainers()).toEqual([]);
});

describe('EVM backend (tnt-core on anvil)', () => {
  it('deploys the protocol, and a job becomes a result verified against the registered key', async () => {
    const updates: string[] = [];
    const onUpdate = (u: { status: string }) => updates.push(u.status);
    sdk.on('jobUpdate', onUpdate);
    const jobId = await sdk.submitJob({ code: 'print(6 * 7)', language: 'python', mode: 'cached' });
    const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
    sdk.off('jobUpdate', onUpdate);
    expect(updates).toEqual(['submitted', 'result', 'completed']);
    expect(r).toMatchObject({ complete: true, operators: [client.address], dissent: [], rejected: [] });
    expect(r).toMatchObject({ exitCode: 0, stdout: '42\n', stderr: '', verified: true, operator: client.address, imageHash: engine.imageHash('python'), quorum: 1 });
    expect(store.get(f.serviceId, jobId)?.caller).toBe(f.caller.address); // ran as its on-chain caller
  });

  it('an output too long for the chain is fetched by hash; served tampered, it fails verification', async () => {
    const jobId = await sdk.submitJob({ code: 'print("y" * 400)', language: 'python', mode: 'cached' });
    const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
    expect(r, r.verificationError).toMatchObject({ stdout: `${'y'.repeat(400)}\n`, verified: true });
    const tampering = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey, fetchOutput: async (url, hash) => ({ ...(await fetchFullOutput(url, hash)), stdout: `${'z'.repeat(400)}\n` }) });
    const bad = await tampering.waitForResult(jobId, { timeoutMs: 10_000 });
    expect(bad.verified).toBe(false);
    expect(bad.verificationError).toMatch(/output hash mismatch/);
  });

  it('puts an error result on-chain for malformed inputs', async () => {
    const notAbi = await submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, '0x1234');
    const badJson = await submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeAbiParameters(parseAbiParameters(EVM_INPUT_TYPES), ['print(1)', 'python', '', '{not json', '', '']));
    const a = await sdk.waitForResult(notAbi, { timeoutMs: 30_000 });
    expect(a).toMatchObject({ exitCode: 255, verified: true });
    expect(a.stderr).toMatch(/VALIDATION_ERROR: args: inputs: are not ABI-encoded \(string code, string language/);
    const b = await sdk.waitForResult(badJson, { timeoutMs: 30_000 });
    expect(b).toMatchObject({ exitCode: 255, verified: true });
    expect(b.stderr).toMatch(/VALIDATION_ERROR: resources: is not valid JSON/);
  });

  it('ignores the calls of another blueprint’s service', async () => {
    const owner = f.deployer;
    const { blueprintId: otherBlueprint } = await createFaasBlueprint(owner, f.addresses.tangle);
    const op = await EvmAccount.connect(f.rpcUrl, f.operatorKeys[0]!);
    await registerEvmOperator(op, { ...f.addresses, blueprintId: otherBlueprint, key: op.sender.account.publicKey, rpcAddress: apiServer.url });
    const request = await requestEvmService(owner, f.addresses.tangle, otherBlueprint, [op.address], [f.caller.address]);
    const otherService = (await approveEvmService(op, f.addresses.tangle, request))!;
    expect(otherService).not.toBe(f.serviceId);
    const ignored = await submitEvmJob(f.caller, f.addresses.tangle, otherService, encodeEvmExecuteArgs({ code: 'print(1)', language: 'python' }));
    const mine = await sdk.submitJob({ code: 'print(2)', language: 'python' });
    await sdk.waitForResult(mine, { timeoutMs: 30_000 }); // a later call of ours is answered...
    expect(await submissions(otherService, ignored)).toBe(0); // ...the other blueprint's is not
    expect(store.get(otherService, ignored)).toBeNull();
  });

  it('after a restart, answers the calls made while it was down, each exactly once', async () => {
    await operator.stop();
    const a = await sdk.submitJob({ code: 'echo down-a', language: 'bash' });
    const b = await sdk.submitJob({ code: 'echo down-b', language: 'bash' });
    operator = await startOperator();
    expect((await sdk.waitForResult(a, { timeoutMs: 30_000 })).stdout).toBe('down-a\n');
    expect((await sdk.waitForResult(b, { timeoutMs: 30_000 })).stdout).toBe('down-b\n');
    await operator.idle();
    expect([await submissions(f.serviceId, a), await submissions(f.serviceId, b)]).toEqual([1, 1]);
  });

  it('reads no logs before its from-block: a fresh database started past a call does not see it, later calls are answered', async () => {
    await operator.stop();
    const before = await sdk.submitJob({ code: 'echo before', language: 'bash' });
    const fromBlock = Number(await f.caller.pub.getBlockNumber()) + 1;
    const after = await sdk.submitJob({ code: 'echo after', language: 'bash' });
    const late = new EvmTangleClient({ rpcUrl: f.rpcUrl, privateKey: f.operatorKeys[0]!, tangle: f.addresses.tangle, log, pollMs: 20, fromBlock });
    await late.connect();
    const lateOp = new Operator({ client: late, engine, store: new JobStore(), signer: { evmPrivateKey: f.operatorKeys[0]! }, services: new Set([f.serviceId]), log });
    try {
      await lateOp.start();
      expect((await sdk.waitForResult(after, { timeoutMs: 30_000 })).stdout).toBe('after\n');
      await lateOp.idle();
      expect([await submissions(f.serviceId, before), await submissions(f.serviceId, after)]).toEqual([0, 1]);
    } finally {
      await lateOp.stop();
      await late.disconnect();
    }
    operator = await startOperator(); // the usual operator (from block 0) answers the earlier call
    expect((await sdk.waitForResult(before, { timeoutMs: 30_000 })).stdout).toBe('before\n');
    // The client's fromBlock: a call from there on is read and verified; an earlier one is not
    // found (a typed NOT_FOUND naming the block), so the setting is what bounds its log reads.
    const scoped = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey, fromBlock });
    expect(await scoped.waitForResult(after, { timeoutMs: 30_000 })).toMatchObject({ stdout: 'after\n', verified: true });
    await expect(scoped.waitForResult(before, { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`from block ${fromBlock}`) });
    // A job it submits itself is read at its own block.
    const fresh = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey, fromBlock: (await f.caller.pub.getBlockNumber()) + 1n });
    const own = await fresh.submitJob({ code: 'echo own', language: 'bash' });
    const r = await fresh.waitForResult(own, { timeoutMs: 30_000 });
    expect(r, r.verificationError).toMatchObject({ stdout: 'own\n', verified: true });
  });

  it('answers concurrent calls without nonce clashes', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => sdk.submitJob({ code: `print(${i} * ${i})`, language: 'python', mode: 'cached' })));
    const results = await Promise.all(ids.map((id) => sdk.waitForResult(id, { timeoutMs: 60_000 })));
    expect(results.map((r) => r.stdout)).toEqual([0, 1, 4, 9, 16, 25].map((n) => `${n}\n`));
    expect(results.every((r) => r.verified)).toBe(true);
  });

  it('anvil restarted from its dumped state: the operator catches up and answers new calls', async () => {
    const before = await client.head();
    await f.anvil.stop(); // writes the state file
    f.anvil = await startAnvil({ port: f.anvil.port, loadState: statePath, dumpState: statePath });
    expect(await client.head()).toBeGreaterThanOrEqual(before); // same chain, same height
    const jobId = await sdk.submitJob({ code: 'print("after restart")', language: 'python', mode: 'cached' });
    const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
    expect(r).toMatchObject({ stdout: 'after restart\n', verified: true });
    expect(await submissions(f.serviceId, jobId)).toBe(1);
  });
});

