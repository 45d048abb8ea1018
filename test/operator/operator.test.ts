// The operator end to end on the local node and the real Docker engine: a job call becomes a
// signed, verifiable result on-chain; bad arguments get an error result; other services'
// calls are ignored; after a restart, unfinished jobs are finished exactly once.
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHash, decodeResult, encodeExecuteArgs, fieldText, operatorSigningKey, outputHash, verifyStatement } from '@faas/sdk/blueprint';
import type { FieldCodec } from '@faas/sdk/blueprint';
import type { LocalNode } from '../../chain/src/index.js';
import { startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { PolkadotTangleClient } from '../../src/tangle/index.js';
import { createLogger } from '../../src/log.js';
import { Operator } from '../../src/operator/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { JobStore } from '../../src/store/index.js';
import { send, setupFaasService, startChain } from '../chain/fixtures.js';
import type { DevKeys } from '../chain/fixtures.js';
import { makeEngine, ourContainers } from '../helpers.js';

const log = createLogger('warn');
let chain: Awaited<ReturnType<typeof startChain>>;
let node: LocalNode;
let api: ApiPromise;
let engine: DockerSandboxEngine;
let k: DevKeys;
let serviceId: number;
let registeredKey: `0x${string}`;
let client: PolkadotTangleClient;
let store: JobStore;
let operator: Operator;
let apiServer: ApiServer;

async function newOperator(s: JobStore): Promise<Operator> {
  const { pair } = await operatorSigningKey('//Bob');
  const op = new Operator({ client, engine, store: s, signer: pair, services: new Set([BigInt(serviceId)]), log });
  await op.start();
  return op;
}


async function resultFieldsOf(sid: number, callId: bigint, timeout = 30_000): Promise<FieldCodec[]> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if ((await api.query.services!.jobResults!.size(sid, callId)).toNumber() > 0) {
      const r = (await api.query.services!.jobResults!(sid, callId)) as unknown as { unwrap(): { result: FieldCodec[] } };
      return r.unwrap().result;
    }
    if (Date.now() > deadline) throw new Error(`no result for call ${callId}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function resultOf(sid: number, callId: bigint, timeout = 30_000): Promise<string[]> {
  return (await resultFieldsOf(sid, callId, timeout)).map(fieldText);
}

/** The statement context of a call, read from the chain as any verifier would. */
async function contextOf(sid: number, callId: bigint) {
  const call = (await api.query.services!.jobCalls!(sid, callId)) as unknown as { unwrap(): { job: Codec; args: FieldCodec[] } };
  const service = (await api.query.services!.instances!(sid)) as unknown as { unwrap(): { blueprint: Codec } };
  return { genesisHash: api.genesisHash.toHex(), blueprintId: BigInt(service.unwrap().blueprint.toString()), serviceId: sid, callId, job: Number(call.unwrap().job.toString()), argsHash: argsHash([...call.unwrap().args]) };
}

async function callJob(args: unknown[], sid = serviceId): Promise<bigint> {
  const r = await send(api.tx.services!.call!(sid, 0, args), k.charlie);
  return BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
}

beforeAll(async () => {
  chain = await startChain();
  ({ node, api, keys: k } = chain);
  ({ registeredKey } = await operatorSigningKey('//Bob'));
  // The operator API serves full outputs by hash; the operator registers its address.
  apiServer = await startApiServer({ log, outputs: { output: (h) => store.output(h), get: (sid, cid) => store.get(sid, cid) } }, { port: 0 });
  ({ serviceId } = await setupFaasService(api, { owner: k.alice, operator: k.bob, permitted: [k.charlie.address], key: registeredKey, rpcAddress: apiServer.url }));
  engine = makeEngine();
  await engine.start();
  client = new PolkadotTangleClient({ rpcUrl: node.url, suri: '//Bob', log });
  await client.connect();
  store = new JobStore();
  operator = await newOperator(store);
});

afterAll(async () => {
  await apiServer?.close();
  await operator?.stop();
  await client?.disconnect();
  await engine?.shutdown();
  await chain?.stop();
  expect(await ourContainers()).toEqual([]);
});

describe('operator', () => {
  it('answers a job call with a signed result that verifies against the registered key', async () => {
    const callId = await callJob(encodeExecuteArgs({ code: 'print(6 * 7)', language: 'python', mode: 'cached' }));
    const r = decodeResult(await resultFieldsOf(serviceId, callId));
    expect(r).toMatchObject({ exitCode: 0, stdout: '42\n', stderr: '', complete: true, imageHash: engine.imageHash('python') });
    expect(r.outputHash).toBe(outputHash({ exitCode: 0, stdout: '42\n', stderr: '' }));
    const statement = { ...(await contextOf(serviceId, callId)), imageHash: r.imageHash, exitCode: 0, outputHash: r.outputHash };
    expect(verifyStatement(statement, r.signature, registeredKey)).toBe(true);
    expect(verifyStatement({ ...statement, outputHash: outputHash({ exitCode: 0, stdout: '43\n', stderr: '' }) }, r.signature, registeredKey)).toBe(false);
  });

  it('binds each signature to its job: a genuine signature from call X copied onto call Y fails', async () => {
    // Same program, same output: before the statement, X's signature verified for Y too.
    const x = await callJob(encodeExecuteArgs({ code: 'print("same")', language: 'python', mode: 'cached' }));
    const y = await callJob(encodeExecuteArgs({ code: 'print("same")', language: 'python', mode: 'cached' }));
    const rx = decodeResult(await resultFieldsOf(serviceId, x));
    const ry = decodeResult(await resultFieldsOf(serviceId, y));
    expect(rx.outputHash).toBe(ry.outputHash);
    const onY = { ...(await contextOf(serviceId, y)), imageHash: rx.imageHash, exitCode: rx.exitCode, outputHash: rx.outputHash };
    expect(verifyStatement(onY, ry.signature, registeredKey)).toBe(true);
    expect(verifyStatement(onY, rx.signature, registeredKey)).toBe(false); // X's signature replayed onto Y
    // Every other part of the statement is bound too.
    const onX = { ...(await contextOf(serviceId, x)), imageHash: rx.imageHash, exitCode: rx.exitCode, outputHash: rx.outputHash };
    expect(verifyStatement(onX, rx.signature, registeredKey)).toBe(true);
    for (const change of [{ genesisHash: `0x${'11'.repeat(32)}` }, { blueprintId: 99n }, { serviceId: 99 }, { job: 1 }, { argsHash: `0x${'22'.repeat(32)}` }, { imageHash: `0x${'33'.repeat(32)}` }, { exitCode: 1 }]) {
      expect(verifyStatement({ ...onX, ...change }, rx.signature, registeredKey)).toBe(false);
    }
  });

  it('puts an error result on-chain for malformed arguments', async () => {
    const callId = await callJob([{ String: 'print(1)' }, { String: 'python' }, { String: '' }, { String: '{not json' }, { String: '' }, { String: '' }]);
    const [exitCode, , stderr] = await resultOf(serviceId, callId);
    expect(exitCode).toBe('255');
    expect(stderr).toMatch(/VALIDATION_ERROR: resources: is not valid JSON/);
  });

  it('ignores calls of a service it does not serve', async () => {
    const other = await setupFaasService(api, { owner: k.alice, operator: k.bob, permitted: [k.charlie.address], key: registeredKey, joined: true });
    const callId = await callJob(encodeExecuteArgs({ code: 'print(1)', language: 'python' }), other.serviceId);
    const mine = await callJob(encodeExecuteArgs({ code: 'print(2)', language: 'python' }));
    await resultOf(serviceId, mine); // later calls of our service are answered...
    expect((await api.query.services!.jobResults!.size(other.serviceId, callId)).toNumber()).toBe(0); // ...the other service's is not
    expect(store.get(BigInt(other.serviceId), callId)).toBeNull();
  });

  it('after a restart, finishes unfinished jobs exactly once', async () => {
    await operator.stop();
    // Two calls arrive while the operator is down; a third was executed but not yet submitted.
    const a = await callJob(encodeExecuteArgs({ code: 'echo down-a', language: 'bash' }));
    const b = await callJob(encodeExecuteArgs({ code: 'echo down-b', language: 'bash' }));
    operator = await newOperator(store);
    expect((await resultOf(serviceId, a))[1]).toBe('down-a\n');
    expect((await resultOf(serviceId, b))[1]).toBe('down-b\n');
    await operator.idle();
    const submissions = async (callId: bigint) => {
      let n = 0;
      for (let i = 0; i <= node.chain.head.number; i++) {
        const at = await api.at(node.chain.block(i)!.hash);
        const evs = (await at.query.system!.events!()) as unknown as Array<{ event: { method: string; data: Codec[] } }>;
        n += evs.filter(({ event }) => event.method === 'JobResultSubmitted' && BigInt(event.data[2]!.toString()) === callId).length;
      }
      return n;
    };
    expect(await submissions(a)).toBe(1);
    expect(await submissions(b)).toBe(1);
    expect(store.unfinished()).toEqual([]);
  });
});

describe('operator with its database lost', () => {
  it('finds calls without a result in Services.JobCalls and answers each once, as its caller', async () => {
    await operator.stop();
    const a = await callJob(encodeExecuteArgs({ code: 'echo lost-a', language: 'bash' }));
    const b = await callJob(encodeExecuteArgs({ code: 'echo lost-b', language: 'bash' }));
    // A fresh, empty store: no record of these calls and no last scanned block.
    store = new JobStore();
    operator = await newOperator(store);
    expect((await resultOf(serviceId, a))[1]).toBe('lost-a\n');
    expect((await resultOf(serviceId, b))[1]).toBe('lost-b\n');
    await operator.idle();
    // Each ran as its on-chain caller (read back from the JobCalled events), not a shared owner.
    expect([store.get(BigInt(serviceId), a)?.caller, store.get(BigInt(serviceId), b)?.caller]).toEqual([k.charlie.address, k.charlie.address]);
    expect(store.counts()).toMatchObject({ received: 0, executed: 0 });
    for (const call of await client.storedJobCalls([BigInt(serviceId)])) expect(await client.hasResult(call.serviceId, call.callId)).toBe(true);
  });
});

describe('TangleFaaSClient', () => {
  it('submits a job and gets a verified result, with job updates', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account: '//Charlie' });
    await sdk.connect();
    const updates: string[] = [];
    sdk.on('jobUpdate', (u: { status: string }) => updates.push(u.status));
    try {
      // Runs a second, so the operator reports it received before the result lands.
      const jobId = await sdk.submitJob({ code: 'setTimeout(() => console.log("hi from js"), 1000)', language: 'javascript', mode: 'cached' });
      const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'hi from js\n', stderr: '', complete: true, verified: true, operator: k.bob.address });
      expect(updates).toEqual(['submitted', 'executing', 'result', 'completed']);
    } finally {
      await sdk.disconnect();
    }
  });

  it('a caller that asks late finds the result in past blocks, verified against the operator that signed it', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account: '//Charlie' });
    await sdk.connect();
    try {
      const jobId = await sdk.submitJob({ code: 'print("early")', language: 'python', mode: 'cached' });
      await resultOf(serviceId, jobId); // on-chain before anyone waits for it
      await send(api.tx.system!.remark!('0x00'), k.alice); // and a few blocks have passed since
      await send(api.tx.system!.remark!('0x00'), k.alice);
      // Another client, that never saw the call, finds it in past blocks and verifies it.
      const late = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account: '//Alice' });
      try {
        const r = await late.waitForResult(jobId, { timeoutMs: 10_000 });
        expect(r).toMatchObject({ stdout: 'early\n', verified: true, operator: k.bob.address, operators: [k.bob.address], quorum: 1 });
      } finally {
        await late.disconnect();
      }
    } finally {
      await sdk.disconnect();
    }
  });

  it('as the README builds it: {rpcUrl, blueprintId, account} only (an {address, signer} wallet account), connecting on first use, finding the service, logging with debug', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const { Keyring } = await import('@polkadot/keyring');
    const pair = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri('//Charlie');
    // A wallet's injected Signer (as a browser extension gives one): it signs the payload it is handed.
    let signed = 0;
    const signer = {
      signPayload: async (payload: Parameters<NonNullable<import('@polkadot/api/types').Signer['signPayload']>>[0]) => {
        signed++;
        const { signature } = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version }).sign(pair);
        return { id: signed, signature };
      },
    };
    const logs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).startsWith('[faas tangle]')) logs.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, account: { address: pair.address, signer }, debug: true });
    try {
      const jobId = await sdk.submitJob({ code: 'print("signed by a wallet")', language: 'python', mode: 'cached' });
      const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
      expect(r).toMatchObject({ stdout: 'signed by a wallet\n', verified: true });
      expect(signed).toBe(1);
      expect((await sdk.service()).serviceId).toBe(BigInt(serviceId));
      expect(logs.join('')).toMatch(/connected to .* as 5/);
      expect(logs.join('')).toMatch(new RegExp(`job ${jobId} submitted to service ${serviceId}`));
    } finally {
      process.stderr.write = write;
      await sdk.disconnect();
    }
  });

  it('a node that cannot be reached fails the first call at once with a ConnectionError (throwOnConnect)', async () => {
    const { TangleFaaSClient, ConnectionError } = await import('@faas/sdk');
    const sdk = new TangleFaaSClient({ rpcUrl: 'ws://127.0.0.1:9', blueprintId: 0, account: '//Charlie' });
    const t0 = Date.now();
    const err = await sdk.submitJob({ code: 'print(1)', language: 'python' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain('ws://127.0.0.1:9');
    expect((err as Error).cause).toBeDefined();
    expect(Date.now() - t0).toBeLessThan(10_000);
    await sdk.disconnect();
  });

  it('takes the blueprint from the service’s on-chain record: a service of another blueprint is refused', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 7, serviceId, account: '//Charlie' });
    try {
      await expect(sdk.submitJob({ code: 'print(1)', language: 'python' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', field: 'blueprintId' });
      await expect(sdk.waitForResult(0n, { timeoutMs: 1_000 })).rejects.toMatchObject({ field: 'blueprintId' });
    } finally {
      await sdk.disconnect();
    }
  });

  it('answers 10 jobs sent at once by two callers, each once and verified', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const clients = ['//Alice', '//Charlie'].map((account) => new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const jobs = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const c = clients[i % 2]!;
          const jobId = await c.submitJob({ code: `print(${i} * ${i})`, language: 'python', mode: 'cached' });
          return { i, result: await c.waitForResult(jobId, { timeoutMs: 60_000 }) };
        }),
      );
      for (const { i, result } of jobs) {
        expect(result.stdout).toBe(`${i * i}\n`);
        expect(result.verified).toBe(true);
      }
      expect(new Set(jobs.map((j) => j.result.jobId)).size).toBe(10);
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
    }
  });

  it('an output too long for the chain is fetched from the operator API and checked against the signed hash', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account: '//Charlie' });
    await sdk.connect();
    try {
      const jobId = await sdk.submitJob({ code: 'print("x" * 5000); import sys; print("e" * 300, file=sys.stderr)', language: 'python', mode: 'cached' });
      const r = await sdk.waitForResult(jobId, { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 0, stdout: `${'x'.repeat(5000)}\n`, stderr: `${'e'.repeat(300)}\n`, complete: false, verified: true });
      const onChain = await resultOf(serviceId, jobId);
      expect(Buffer.byteLength(onChain[1]!)).toBeLessThanOrEqual(256); // the chain holds the cut copy
      const res = await fetch(`${apiServer.url}/v1/outputs/0x${'ab'.repeat(32)}`);
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([404, 'NOT_FOUND']);
      const bad = await fetch(`${apiServer.url}/v1/outputs/nothex`);
      expect([bad.status, ((await bad.json()) as { field: string }).field]).toEqual([400, 'hash']);
    } finally {
      await sdk.disconnect();
    }
  });

  it('a full output served tampered by the operator API fails verification', async () => {
    const { TangleFaaSClient } = await import('@faas/sdk');
    // The registered address serves changed outputs: what a dishonest or broken operator would do.
    const port = Number(new URL(apiServer.url).port);
    const serve = (change: (s: string) => string) => startApiServer({ log, outputs: { output: (h) => { const o = store.output(h); return o && { ...o, stdout: change(o.stdout) }; } } }, { port });
    await apiServer.close();
    apiServer = await serve((s) => s.replace('y', 'z'));
    const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: 0, serviceId, account: '//Charlie' });
    await sdk.connect();
    try {
      const r = await sdk.waitForResult(await sdk.submitJob({ code: 'print("y" * 400)', language: 'python', mode: 'cached' }), { timeoutMs: 30_000 });
      expect(r.verified).toBe(false);
      expect(r.verificationError).toMatch(/output hash mismatch/);
    } finally {
      await sdk.disconnect();
      await apiServer.close();
      apiServer = await startApiServer({ log, outputs: { output: (h) => store.output(h), get: (sid, cid) => store.get(sid, cid) } }, { port });
    }
  });

  it('a tampered output, or a signature by another key, fails verification', async () => {
    const { verifyOperatorResult } = await import('@faas/sdk');
    const callId = await callJob(encodeExecuteArgs({ code: 'print("real")', language: 'python', mode: 'cached' }));
    const fields = await resultFieldsOf(serviceId, callId);
    const job = await contextOf(serviceId, callId);
    const reg = { key: registeredKey, rpcAddress: apiServer.url };
    const deps = { operators: [k.bob.address], registration: async () => reg, fetchOutput: async () => ({ exitCode: 0, stdout: '', stderr: '' }) };
    expect(await verifyOperatorResult(job, k.bob.address, fields, deps)).toMatchObject({ verified: true, stdout: 'real\n' });
    // The on-chain stdout changed: its hash no longer matches.
    const changed = fields.map((f, i) => (i === 1 ? ({ type: 'String', value: { toU8a: () => Buffer.from('fake\n'), toString: () => 'fake\n' } } as unknown as FieldCodec) : f));
    expect((await verifyOperatorResult(job, k.bob.address, changed, deps)).verificationError).toMatch(/output hash mismatch/);
    const { registeredKey: otherKey } = await operatorSigningKey('//Eve');
    expect((await verifyOperatorResult(job, k.bob.address, fields, { ...deps, registration: async () => ({ ...reg, key: otherKey }) })).verified).toBe(false);
    // A result from an account that does not operate the service is not trusted, signature or not.
    expect(await verifyOperatorResult(job, k.eve.address, fields, deps)).toMatchObject({ verified: false, trusted: false });
  });
});

describe('operator and a dropped node connection', () => {
  it('loses no job: a call made while the node was unreachable is answered after it returns', async () => {
    // Signed beforehand; submitted in-process while no client can reach the node.
    const tx = api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'print("while away")', language: 'python', mode: 'cached' }));
    await tx.signAsync(k.charlie);
    await node.suspend();
    const { block } = await node.pool.submit(tx.toHex() as `0x${string}`);
    const raw = block.storage.get(node.runtime.key('system', 'events'))!;
    const records = api.registry.createType('Vec<EventRecord>', raw) as unknown as Array<{ event: { method: string; data: Codec[] } }>;
    const callId = BigInt(records.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
    await new Promise((res) => setTimeout(res, 1500));
    await node.resume();
    await expect.poll(() => api.isConnected, { timeout: 15_000 }).toBe(true); // our own API reconnects too
    const [exitCode, stdout] = await resultOf(serviceId, callId, 45_000);
    expect([exitCode, stdout]).toEqual(['0', 'while away\n']);
  });
});
