// The operator end to end on a chopsticks fork of the live endpoint FAAS_FORK_ENDPOINT, when
// its runtime has the services pallet: the FaaS blueprint and service set up as on our local
// node (test/chain/fixtures.ts), the operator serving it on the real Docker engine, and a job
// sent by //Charlie through the chain answered with a result that verifies. Without the
// pallet, the one check is that the fork runs the endpoint's runtime, which lacks it.
import type { ApiPromise } from '@polkadot/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fundAccounts, startChopsticks } from '../../chain/chopsticks/index.js';
import type { Chopsticks } from '../../chain/chopsticks/index.js';
import { accountFromUri, connectApi } from '../../src/tangle/index.js';
import { createLogger } from '../../src/log.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { startOperatorService } from '../../src/operator/index.js';
import type { OperatorService } from '../../src/operator/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { setupFaasService } from '../chain/fixtures.js';
import { makeEngine, ourContainers } from '../helpers.js';
import { block, endpoint } from './endpoint.js';

const UNIT = 10n ** 18n;

// What the endpoint runs decides which checks there are.
const live = await connectApi(endpoint);
const liveRuntime = { specName: live.runtimeVersion.specName.toString(), specVersion: live.runtimeVersion.specVersion.toNumber() };
const hasServices = live.tx.services !== undefined;
await live.disconnect();

let node: Chopsticks;
let api: ApiPromise;

afterAll(async () => {
  await api?.disconnect();
  await node?.stop();
});

if (!hasServices) {
  describe(`a fork of ${endpoint} (${liveRuntime.specName} ${liveRuntime.specVersion}, no services pallet)`, () => {
    it('runs the endpoint’s runtime, which has no services pallet: no operator flow to run', async () => {
      node = await startChopsticks({ endpoint, block });
      api = await connectApi(node.url);
      expect({ specName: api.runtimeVersion.specName.toString(), specVersion: api.runtimeVersion.specVersion.toNumber() }).toEqual(liveRuntime);
      expect(api.tx.services).toBeUndefined();
    });
  });
} else {
  describe(`operator end to end on a fork of ${endpoint} (${liveRuntime.specName} ${liveRuntime.specVersion})`, () => {
    let engine: DockerSandboxEngine;
    let service: OperatorService;
    let ids: { blueprintId: number; serviceId: number };
    let operatorAddress: string;

    beforeAll(async () => {
      node = await startChopsticks({ endpoint, block });
      api = await connectApi(node.url);
      const alice = accountFromUri(api, '//Alice');
      const bob = accountFromUri(api, '//Bob');
      const charlie = accountFromUri(api, '//Charlie');
      operatorAddress = bob.address;
      await fundAccounts(node, api, { [alice.address]: 1_000_000n * UNIT, [bob.address]: 1_000_000n * UNIT, [charlie.address]: 1_000_000n * UNIT });
      const { registeredKey } = await operatorSigningKey('//Bob');
      // On a live chain //Bob may be an operator already.
      const joined = ((await api.query.multiAssetDelegation!.operators!(bob.address)) as unknown as { isSome: boolean }).isSome;
      ids = await setupFaasService(api, { owner: alice, operator: bob, permitted: [charlie.address], key: registeredKey, joined });
      engine = makeEngine();
      await engine.start();
      service = await startOperatorService({ rpcUrl: node.url, suri: '//Bob', services: [BigInt(ids.serviceId)], dbPath: ':memory:', engine, log: createLogger('warn'), api: false });
    });

    afterAll(async () => {
      await service?.stop();
      await engine?.shutdown();
      expect(await ourContainers()).toEqual([]);
    });

    it('answers a job sent through the chain with a result that verifies', async () => {
      const sdk = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: ids.blueprintId, serviceId: ids.serviceId, account: '//Charlie' });
      await sdk.connect();
      try {
        const jobId = await sdk.submitJob({ code: 'print(6 * 7)', language: 'python', mode: 'cached' });
        const r = await sdk.waitForResult(jobId, { timeoutMs: 120_000 });
        expect(r).toMatchObject({ exitCode: 0, stdout: '42\n', stderr: '', complete: true, verified: true, operator: operatorAddress });
      } finally {
        await sdk.disconnect();
      }
    });
  });
}
