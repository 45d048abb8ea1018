// Following `latest` or `finalized` on the EVM backend (the counterpart of the Substrate client's
// best/finalized test): anvil answers the `finalized` tag with the head minus twice its slots per
// epoch (here 2: four blocks back). Two operators of one service: the one following latest acts
// on a call at once; the one following finalized records nothing until the call's block is
// finalized, then answers, and counts its result as in only once that block is finalized too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvmExecuteArgs } from '@faas/sdk/blueprint';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { submitEvmJob, tangleAbi } from '../../src/tangle/evm/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { makeEngine, ourContainers } from '../helpers.js';
import { InProcessEvmOperator, evmSubmitters } from './operators.js';

const SLOTS = 2;
let f: LocalEvmFaas;
let engine: DockerSandboxEngine;
let fast: InProcessEvmOperator;
let safe: InProcessEvmOperator;

const finalized = async () => (await f.caller.pub.getBlock({ blockTag: 'finalized' })).number;
const mine = (n = 1) => f.caller.pub.request({ method: 'anvil_mine' as 'eth_blockNumber', params: [`0x${n.toString(16)}`] as unknown as undefined });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  engine = makeEngine();
  await engine.start();
  fast = new InProcessEvmOperator(ANVIL_KEYS[1], engine, 'latest');
  safe = new InProcessEvmOperator(ANVIL_KEYS[2], engine, 'finalized');
  f = await startLocalEvmFaas({ operators: 2, rpcAddresses: [await fast.serveApi(), await safe.serveApi()], anvil: { slotsInAnEpoch: SLOTS } });
  fast.chain = safe.chain = { rpcUrl: f.rpcUrl, tangle: f.addresses.tangle };
  await Promise.all([fast.start([f.serviceId]), safe.start([f.serviceId])]);
});

afterAll(async () => {
  await fast?.close();
  await safe?.close();
  await engine?.shutdown();
  await f?.anvil.stop();
  expect(await ourContainers()).toEqual([]);
});

describe('EVM block following', () => {
  it('acts on a call at once when following latest, and only once its block is finalized when following finalized', async () => {
    const callId = await submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeEvmExecuteArgs({ code: 'print("final")', language: 'python', mode: 'cached' }));
    const event = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobSubmitted')!;
    const [log] = await f.caller.pub.getLogs({ address: f.addresses.tangle, event, args: { serviceId: f.serviceId, callId }, fromBlock: 0n });
    const callBlock = log!.blockNumber!;
    expect(await finalized()).toBeLessThan(callBlock); // at most a block or two past it: not final
    // The latest-following operator answers without any block being finalized for it.
    const fastAddress = fast.client!.address;
    await expect.poll(() => evmSubmitters(f.caller.pub, f.addresses.tangle, f.serviceId, callId), { timeout: 30_000 }).toEqual([fastAddress]);
    // The finalized-following one has not even recorded the call while its block is not final.
    while ((await finalized()) < callBlock) {
      await sleep(150); // several of its polls (every 20 ms)
      expect(safe.store.get(f.serviceId, callId)).toBeNull();
      await mine();
    }
    await expect.poll(() => safe.store.get(f.serviceId, callId) !== null, { timeout: 10_000 }).toBe(true);
    // Its result transaction counts as in only once its block is final: blocks keep coming.
    const miner = setInterval(() => void mine().catch(() => undefined), 50);
    try {
      await expect.poll(() => safe.store.get(f.serviceId, callId)?.status, { timeout: 60_000 }).toBe('submitted');
    } finally {
      clearInterval(miner);
    }
    const submitters = await evmSubmitters(f.caller.pub, f.addresses.tangle, f.serviceId, callId);
    expect(submitters).toEqual([fastAddress, safe.client!.address]);
    const sdk = new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: f.caller.privateKey });
    expect(await sdk.waitForResult(callId, { quorum: 2, timeoutMs: 10_000 })).toMatchObject({ stdout: 'final\n', verified: true });
  });
});
