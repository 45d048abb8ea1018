// The FaaS blueprint's service manager contract on its own: compiled once per source (then read
// from the cache), bound to its blueprint by the Tangle contract only, answering tnt-core's
// result-count and aggregation questions, and its quorum settable by the service owner only.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { compileServiceManager, managerAbi } from '../../chain/evm/manager.js';

let f: LocalEvmFaas;

beforeAll(async () => {
  f = await startLocalEvmFaas({ operators: 1 });
});

afterAll(async () => {
  await f?.anvil.stop();
});

describe('FaaSServiceManager', () => {
  it('is compiled once per source, then read from the cache', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'faas-contracts-'));
    const before = process.env.FAAS_CONTRACT_CACHE;
    process.env.FAAS_CONTRACT_CACHE = dir;
    try {
      const cold = compileServiceManager();
      expect(readdirSync(dir)).toEqual([expect.stringMatching(/^FaaSServiceManager-[0-9a-f]{32}\.json$/)]);
      const t = performance.now();
      const warm = compileServiceManager();
      expect(performance.now() - t).toBeLessThan(200); // no compiler loaded
      expect(warm).toEqual(cold);
      expect(cold.bytecode).toMatch(/^0x[0-9a-f]{200,}$/);
    } finally {
      if (before === undefined) delete process.env.FAAS_CONTRACT_CACHE;
      else process.env.FAAS_CONTRACT_CACHE = before;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is bound to its blueprint by the Tangle contract, and answers tnt-core’s questions', async () => {
    const read = <T>(functionName: string, args: unknown[] = []) => f.caller.pub.readContract({ address: f.manager, abi: managerAbi, functionName, args } as never) as Promise<T>;
    expect(await read('tangle')).toBe(f.addresses.tangle);
    expect(await read('blueprintId')).toBe(f.blueprintId);
    expect(await read('serviceOwner', [f.serviceId])).toBe(f.deployer.address);
    expect(await read('requiresAggregation', [f.serviceId, 0])).toBe(false);
    expect(await read('getRequiredResultCount', [f.serviceId, 0])).toBe(1); // the one operator
    const { abi } = compileServiceManager();
    // Only the Tangle contract may bind it (and it is bound already).
    await expect(f.caller.sender.send({ to: f.manager, abi, functionName: 'onBlueprintCreated', args: [7n, f.caller.address, f.addresses.tangle] })).rejects.toThrow(/OnlyTangle/);
  });

  it('takes a quorum from the service owner only', async () => {
    await expect(f.caller.sender.send({ to: f.manager, abi: managerAbi, functionName: 'setRequiredResults', args: [f.serviceId, 1] })).rejects.toThrow(/setRequiredResults/);
    const { abi } = compileServiceManager();
    await expect(f.caller.sender.send({ to: f.manager, abi, functionName: 'setRequiredResults', args: [f.serviceId, 1] })).rejects.toThrow(/NotServiceOwner/);
    await f.deployer.sender.send({ to: f.manager, abi, functionName: 'setRequiredResults', args: [f.serviceId, 5] });
    // Capped at the service's operator count.
    expect(await f.caller.pub.readContract({ address: f.manager, abi: managerAbi, functionName: 'getRequiredResultCount', args: [f.serviceId, 0] })).toBe(1);
  });
});
