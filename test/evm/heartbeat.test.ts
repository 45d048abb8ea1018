// Heartbeats to tnt-core's OperatorStatusRegistry: the service's activation registered its
// operator there (Offline until a first beat); the operator service sends EIP-712 signed
// `submitHeartbeat`s on its interval and the registry records them (Healthy, online, counting
// consecutive beats); they stop when it stops; an account outside the service is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { EvmTangleClient, statusRegistryAbi } from '../../src/tangle/evm/index.js';
import { createLogger } from '../../src/log.js';
import { startOperatorService } from '../../src/operator/index.js';
import { makeEngine } from '../helpers.js';

const log = createLogger('warn');
let f: LocalEvmFaas;
let operator: `0x${string}`;

const state = () => f.caller.pub.readContract({ address: f.addresses.statusRegistry, abi: statusRegistryAbi, functionName: 'getOperatorState', args: [f.serviceId, operator] });
const beats = async () => {
  const event = statusRegistryAbi.find((x) => x.type === 'event' && x.name === 'HeartbeatReceived')!;
  return (await f.caller.pub.getLogs({ address: f.addresses.statusRegistry, event, args: { serviceId: f.serviceId, operator }, fromBlock: 0n })).length;
};

beforeAll(async () => {
  f = await startLocalEvmFaas({ operators: 1 });
  operator = new EvmTangleClient({ rpcUrl: f.rpcUrl, privateKey: f.operatorKeys[0]!, tangle: f.addresses.tangle, log }).address;
});

afterAll(async () => {
  await f?.anvil.stop();
});

describe('EVM operator heartbeats', () => {
  it('the registry records the operator’s signed heartbeats while it runs, and no more after it stops', async () => {
    const registry = f.addresses.statusRegistry;
    expect(await f.caller.pub.readContract({ address: registry, abi: statusRegistryAbi, functionName: 'isRegisteredOperator', args: [f.serviceId, operator] })).toBe(true);
    expect(await f.caller.pub.readContract({ address: registry, abi: statusRegistryAbi, functionName: 'isOnline', args: [f.serviceId, operator] })).toBe(false);
    expect((await state()).lastHeartbeat).toBe(0n);
    // No job runs here: the engine is never started. It follows finalized blocks (the default),
    // which on this anvil lag 64 blocks: a beat must not wait for finality, only for a block.
    const service = await startOperatorService({ rpcUrl: f.rpcUrl, evm: { tangle: f.addresses.tangle, heartbeatMs: 250 }, suri: f.operatorKeys[0]!, services: [f.serviceId], dbPath: ':memory:', engine: makeEngine(), log, follow: 'finalized', api: false });
    try {
      expect((await state()).consecutiveBeats).toBeGreaterThanOrEqual(1n); // the first beat is sent before it serves
      await expect.poll(async () => (await state()).consecutiveBeats, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(3n);
      const s = await state();
      expect(s.status).toBe(0); // Healthy
      expect(s.lastHeartbeat).toBeGreaterThan(0n);
      expect(await f.caller.pub.readContract({ address: registry, abi: statusRegistryAbi, functionName: 'isOnline', args: [f.serviceId, operator] })).toBe(true);
    } finally {
      await service.stop();
    }
    const after = await beats();
    expect(after).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 800));
    expect(await beats()).toBe(after);
  });

  it('an account that does not operate the service is refused by the registry', async () => {
    const outsider = new EvmTangleClient({ rpcUrl: f.rpcUrl, privateKey: ANVIL_KEYS[4], tangle: f.addresses.tangle, log });
    await outsider.connect();
    await expect(outsider.heartbeat(f.serviceId, f.blueprintId)).rejects.toThrow(/NotRegisteredOperator/);
  });
});
