// The operator's chain client against the local node: it sees every JobCalled of finalized
// blocks once (catching up from a past block), and submits many results at once without
// nonce collisions.
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeExecuteArgs } from '@faas/sdk/blueprint';
import { PolkadotTangleClient } from '../../src/tangle/index.js';
import type { JobCall } from '../../src/tangle/index.js';
import { createLogger } from '../../src/log.js';
import { send, setupFaasService, startChain } from './fixtures.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let api: ApiPromise;
let alice: KeyringPair;
let bob: KeyringPair;
let charlie: KeyringPair;
let serviceId: number;
let client: PolkadotTangleClient;

beforeAll(async () => {
  chain = await startChain();
  ({ api } = chain);
  ({ alice, bob, charlie } = chain.keys);
  ({ serviceId } = await setupFaasService(api, { owner: alice, operator: bob, permitted: [charlie.address] }));
  client = new PolkadotTangleClient({ rpcUrl: chain.node.url, suri: '//Bob', log: createLogger('warn') });
  await client.connect();
});

afterAll(async () => {
  await client?.disconnect();
  await chain?.stop();
});

describe('PolkadotTangleClient', () => {
  it('sees each job call once, catching up from an earlier block, with its args', async () => {
    const first = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'print(1)', language: 'python' })), charlie);
    const firstBlock = (await api.rpc.chain.getHeader(first.status.asFinalized)).number.toNumber();
    const seen: JobCall[] = [];
    const stop = await client.subscribeJobCalls((c) => seen.push(c), { fromBlock: firstBlock });
    await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'echo 2', language: 'bash' })), alice);
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
    stop();
    expect(seen.map((c) => c.callId)).toEqual([0n, 1n]);
    expect(seen[0]!.caller).toBe(charlie.address);
    expect(seen[1]!.caller).toBe(alice.address);
    const code = seen[1]!.args.map((f) => Buffer.from((f as unknown as { value: { toU8a(b: boolean): Uint8Array } }).value.toU8a(true)).toString());
    expect(code.slice(0, 2)).toEqual(['echo 2', 'bash']);
  });

  it('can act on best blocks instead of finalized ones (FAAS_FOLLOW=best)', async () => {
    const best = new PolkadotTangleClient({ rpcUrl: chain.node.url, suri: '//Bob', log: createLogger('warn'), follow: 'best' });
    await best.connect();
    const seen: JobCall[] = [];
    const stop = await best.subscribeJobCalls((c) => seen.push(c));
    try {
      const r = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'print(3)', language: 'python' })), charlie);
      const callId = BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
      // (It starts at the current head, whose own calls it reports too.)
      await expect.poll(() => seen.filter((c) => c.callId === callId).length, { timeout: 10_000 }).toBe(1);
    } finally {
      stop();
      await best.disconnect();
    }
  });

  it('submits 10 results at once: distinct nonces, each included once', async () => {
    const calls: bigint[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: `print(${i})`, language: 'python' })), charlie);
      calls.push(BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString()));
    }
    const nonceBefore = (await api.rpc.system.accountNextIndex(bob.address)).toNumber();
    const included = await Promise.all(calls.map((c, i) => client.submitResult(BigInt(serviceId), c, [{ Uint8: 0 }, { String: `${i}\n` }, { String: '' }, { Bool: true }, { String: '0x00' }, { String: '0x00' }, { String: '0x00' }])));
    expect(included.every((r) => r.events.includes('services.JobResultSubmitted'))).toBe(true);
    expect(new Set(included.map((r) => r.blockHash)).size).toBe(10);
    for (const c of calls) expect(await client.hasResult(BigInt(serviceId), c)).toBe(true);
    expect((await api.rpc.system.accountNextIndex(bob.address)).toNumber()).toBe(nonceBefore + 10);
  });

  it('recovers when its local nonce went stale (another sender used the account)', async () => {
    const r = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'print(0)', language: 'python' })), charlie);
    const callId = BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
    await send(api.tx.system!.remark!('0x00'), bob); // bumps Bob's nonce behind the client's back
    const included = await client.submitResult(BigInt(serviceId), callId, [{ Uint8: 0 }, { String: '' }, { String: '' }, { Bool: true }, { String: '0x00' }, { String: '0x00' }, { String: '0x00' }]);
    expect(included.events).toContain('services.JobResultSubmitted');
  });
});
