// The local Tangle services node, as @polkadot/api sees it: it connects, finds Tangle's
// v1.4.3 runtime (services pallet included), reads storage with the real key hashing and
// follows new heads.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_BALANCE, devAddresses, startNode } from '../../chain/src/index.js';
import type { LocalNode } from '../../chain/src/index.js';

let node: LocalNode;
let api: ApiPromise;

beforeAll(async () => {
  node = await startNode({ port: 0 });
  api = await ApiPromise.create({ provider: new WsProvider(node.url), noInitWarn: true, throwOnConnect: true });
});

afterAll(async () => {
  await api?.disconnect();
  await node?.stop();
});

describe('local Tangle services node', () => {
  it('serves the real Tangle runtime: version, chain, properties', async () => {
    expect(api.runtimeVersion.specName.toString()).toBe('tangle-testnet');
    expect(api.runtimeVersion.specVersion.toNumber()).toBe(1403);
    expect(api.runtimeMetadata.version).toBe(15);
    expect((await api.rpc.system.chain()).toString()).toMatch(/Tangle/);
    expect(api.registry.chainSS58).toBe(42);
    expect(api.registry.chainDecimals[0]).toBe(18);
  });

  it('exposes the services pallet calls, events, storage and errors from the metadata', () => {
    for (const call of ['createBlueprint', 'register', 'request', 'approve', 'call', 'submitResult']) {
      expect(typeof api.tx.services![call], call).toBe('function');
    }
    expect(api.tx.services!.call!.meta.args.map((a) => a.name.toString())).toEqual(['serviceId', 'job', 'args']);
    expect(api.events.services!.JobCalled).toBeDefined();
    expect(api.events.services!.JobResultSubmitted).toBeDefined();
    expect(typeof api.query.services!.jobCalls).toBe('function');
    expect(typeof api.query.services!.jobResults).toBe('function');
    expect(typeof api.tx.multiAssetDelegation!.joinOperators).toBe('function');
    expect(api.tx.services!.call!.callIndex[0]).toBe(51);
  });

  it('reads genesis storage with the real key hashing', async () => {
    const { Alice, Bob } = await devAddresses(42);
    const alice = await api.query.system!.account!(Alice);
    expect((alice as unknown as { data: { free: { toBigInt(): bigint } } }).data.free.toBigInt()).toBe(DEV_BALANCE);
    const bob = await api.query.system!.account!(Bob);
    expect((bob as unknown as { nonce: { toNumber(): number } }).nonce.toNumber()).toBe(0);
    expect((await api.query.sudo!.key!()).toString()).toBe(Alice);
    expect((await api.rpc.system.accountNextIndex(Alice)).toNumber()).toBe(0);
  });

  it('follows new heads and keeps old state readable', async () => {
    const seen: number[] = [];
    const unsub = await api.rpc.chain.subscribeNewHeads((h) => {
      seen.push(h.number.toNumber());
    });
    node.chain.buildBlock([]);
    node.chain.buildBlock([]);
    await expect.poll(() => seen.at(-1), { timeout: 5000 }).toBe(2);
    unsub();
    const hash1 = await api.rpc.chain.getBlockHash(1);
    const header = await api.rpc.chain.getHeader(hash1);
    expect(header.number.toNumber()).toBe(1);
    expect(header.parentHash.toHex()).toBe(node.chain.genesis.hash);
    expect((await api.query.system!.number!()).toString()).toBe('2');
    const atGenesis = await api.at(node.chain.genesis.hash);
    expect((await atGenesis.query.system!.number!()).toString()).toBe('0');
  });

  it('answers an unknown method with a JSON-RPC error, and keeps serving', async () => {
    await expect(api.rpc('faas_noSuchMethod' as never)).rejects.toThrow();
    const provider = api['_rpcCore'].provider as WsProvider;
    await expect(provider.send('nope_nothing', [])).rejects.toThrow(/Method not found/);
    expect((await api.rpc.chain.getFinalizedHead()).toHex()).toBe(node.chain.head.hash);
  });
});
