// Several operators on one service, on each chain backend (the local Substrate node, and
// tnt-core's contracts on anvil) and the real engine — one suite, run once per backend: each
// operator answers every call; the client believes a result when enough of the service's
// operators sign the same statement; a lying operator is dissent; an account that does not
// operate the service cannot get a result believed; an operator killed before a call (or
// between journaling and inclusion of its result) answers what it missed exactly once when it
// comes back. Where the protocols differ, a case runs on its backend only: on Substrate an
// outsider's result lands on-chain and is rejected by the client, and the start-up race; on EVM
// the contract refuses an outsider, the blueprint's service manager keeps a call open until
// every operator has answered (or an owner-set quorum), and an operator killed mid-job.
import { mkdtempSync, rmSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import type { Codec } from '@polkadot/types/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHash, encodeResult, operatorSigningKey, outputHash, signStatement } from '@faas/sdk/blueprint';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { setRequiredResults } from '../../chain/evm/faas.js';
import { managerAbi } from '../../chain/evm/manager.js';
import { PolkadotTangleClient } from '../../src/tangle/index.js';
import type { JobCall } from '../../src/tangle/index.js';
import { EvmAccount, tangleAbi } from '../../src/tangle/evm/index.js';
import { createLogger } from '../../src/log.js';
import type { DockerSandboxEngine, ExecuteOptions, ExecuteRequestInput, Language, SandboxEngine } from '../../src/sandbox/index.js';
import { JobStore } from '../../src/store/index.js';
import type { JobUpdate } from '@faas/sdk';
import { registerOperators, send } from '../chain/fixtures.js';
import { makeEngine, ourContainers } from '../helpers.js';
import { InProcessOperator, exited } from './operators.js';
import { evmJobCall, startQuorumBackend } from './quorum-backends.js';
import type { BackendName, QuorumBackend } from './quorum-backends.js';

let engine: DockerSandboxEngine;
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

beforeAll(async () => {
  engine = makeEngine({ FAAS_OWNER_MAX_CONTAINERS: '4' });
  await engine.start();
});

afterAll(async () => {
  await engine?.shutdown();
  rmSync(dir, { recursive: true, force: true });
  expect(await ourContainers()).toEqual([]);
});

describe.each<BackendName>(['substrate', 'evm'])('a service with three operators (%s)', (backend) => {
  let b: QuorumBackend;
  const all = () => [b.addresses.bob, b.addresses.dave, b.addresses.eve].sort();
  const eveCount = async (jobId: bigint) => (await b.submitters(jobId)).filter((a) => a === b.addresses.eve).length;

  beforeAll(async () => {
    b = await startQuorumBackend(backend, engine, dir);
  });

  afterAll(async () => {
    await b?.stop();
  });

  it('every operator answers every call; the client resolves when a majority agree, reporting each result', async () => {
    const sdk = b.client();
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
      await expect.poll(async () => (await b.submitters(jobId)).sort(), { timeout: 30_000 }).toEqual(all());
      const three = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
      expect(three.operators.sort()).toEqual(all());
      // On EVM the service manager asked for all three results: the third completed the call.
      if (b.evm) expect(await evmJobCall(b.evm, jobId)).toMatchObject({ resultCount: 3, completed: true });
    } finally {
      await sdk.disconnect();
    }
  });

  it('an operator that signs a different output is reported as dissent, and a quorum it spoils is not reached', async () => {
    await b.dave.stop();
    await b.dave.start({ engine: lyingEngine(engine) });
    try {
      const jobId = await b.call('print("honest")');
      await expect.poll(async () => (await b.submitters(jobId)).length, { timeout: 30_000 }).toBe(3);
      const sdk = b.client();
      try {
        const two = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 10_000 });
        expect(two).toMatchObject({ stdout: 'honest\n', verified: true });
        expect(two.operators.sort()).toEqual([b.addresses.bob, b.addresses.eve].sort());
        expect(two.dissent.map((d) => [d.operator, d.stdout, d.verified])).toEqual([[b.addresses.dave, 'forged\n', true]]); // genuinely signed: evidence
        const three = await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 });
        expect(three.verified).toBe(false);
        expect(three.verificationError).toMatch(/no quorum: 2 of the 3/);
      } finally {
        await sdk.disconnect();
      }
    } finally {
      await b.dave.stop();
      await b.dave.start();
    }
  });

  if (backend === 'substrate') {
    it('an account registered for the blueprint but not operating the service cannot front-run a result', async () => {
      const { api, blueprintId, serviceId } = b.substrate!;
      // Ferdie joins and registers for the blueprint with a key of its own, but is no operator of the service.
      const ferdie = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Ferdie');
      const { pair: ferdieKey, registeredKey } = await operatorSigningKey('//Ferdie');
      await registerOperators(api, blueprintId, [{ pair: ferdie, key: registeredKey, rpcAddress: 'http://127.0.0.1:9' }]);
      // The honest operators are down when the call comes; the forger answers first, with a
      // well-formed result and a valid signature of its own over the right statement.
      await Promise.all([b.bob.stop(), b.dave.stop(), b.killEve()]);
      const jobId = await b.call('print("truth")');
      const stored = (await api.query.services!.jobCalls!(serviceId, jobId)) as unknown as { unwrap(): { args: Codec[] } };
      const forged = { exitCode: 0, stdout: 'lies\n', stderr: '' };
      const imageHash = engine.imageHash('python');
      const hash = outputHash(forged);
      const signature = signStatement(ferdieKey, { genesisHash: api.genesisHash.toHex(), blueprintId, serviceId, callId: jobId, job: 0, argsHash: argsHash([...stored.unwrap().args]), imageHash, exitCode: 0, outputHash: hash });
      await send(api.tx.services!.submitResult!(serviceId, jobId, encodeResult({ ...forged, outputHash: hash, imageHash, signature })), ferdie);
      expect(await b.submitters(jobId)).toEqual([ferdie.address]);
      // The honest operators come back: a result already on-chain does not silence them.
      await Promise.all([b.bob.start(), b.dave.start(), b.startEve()]);
      const sdk = b.client();
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
  } else {
    it('an account that does not operate the service cannot submit a result: the contract refuses it', async () => {
      const f = b.evm!;
      const outsider = await EvmAccount.connect(f.rpcUrl, ANVIL_KEYS[4]);
      const jobId = await b.call('print("truth")');
      await expect(outsider.sender.send({ to: f.addresses.tangle, abi: tangleAbi, functionName: 'submitResult', args: [f.serviceId, jobId, '0x'] })).rejects.toThrow(/OperatorNotInService/);
      const r = await b.client().waitForResult(jobId, { quorum: 3, timeoutMs: 60_000 });
      expect(r).toMatchObject({ stdout: 'truth\n', verified: true, rejected: [] });
    });
  }

  it('failover: with one operator killed before a call, the other two reach quorum; back, it answers what it missed exactly once', async () => {
    await b.killEve();
    const sdk = b.client();
    try {
      const missed = [await sdk.submitJob({ code: 'print("while eve was down")', language: 'python' }), await sdk.submitJob({ code: 'print("and again")', language: 'python' })];
      for (const jobId of missed) {
        const r = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 60_000 });
        expect(r.verified).toBe(true);
        expect(r.operators.sort()).toEqual([b.addresses.bob, b.addresses.dave].sort());
        if (b.evm) expect(await evmJobCall(b.evm, jobId)).toMatchObject({ resultCount: 2, completed: false }); // open for eve
      }
      await b.startEve();
      for (const jobId of missed) await expect.poll(() => eveCount(jobId), { timeout: 60_000 }).toBe(1);
      const three = await sdk.waitForResult(missed[0]!, { quorum: 3, timeoutMs: 10_000 });
      expect(three.operators.length).toBe(3);
      await new Promise((res) => setTimeout(res, 1500));
      for (const jobId of missed) expect((await b.submitters(jobId)).sort()).toEqual(all());
    } finally {
      await sdk.disconnect();
    }
  });

  for (const point of ['after-journal', 'after-send'] as const) {
    it(`an operator killed ${point === 'after-journal' ? 'after journaling its signed result, before sending it' : 'after sending its result, before recording the inclusion'} submits exactly one result after restart`, async () => {
      await b.killEve();
      // Nothing else left for it to submit: the crash point must be this call's.
      const eveStore = new JobStore(b.eveDbPath);
      expect(eveStore.unfinished()).toEqual([]);
      eveStore.close();
      const crashed = await b.startEve({ FAAS_TEST_CRASH_POINT: point });
      const jobId = await b.call(`print("${point}")`);
      await exited(crashed); // it killed itself at the crash point
      expect(crashed.signalCode).toBe('SIGKILL');
      await b.killEve(); // (already gone)
      expect(await eveCount(jobId)).toBe(point === 'after-send' ? 1 : 0);
      await b.startEve();
      await expect.poll(() => eveCount(jobId), { timeout: 60_000 }).toBe(1);
      await new Promise((res) => setTimeout(res, 1500));
      expect(await eveCount(jobId)).toBe(1);
    });
  }

  if (backend === 'evm') {
    it('an operator SIGKILLed mid-job: the other two reach quorum and the call stays open; back, it answers exactly once', async () => {
      const f = b.evm!;
      const sdk = b.client();
      const jobId = await sdk.submitJob({ code: 'import time\ntime.sleep(2)\nprint("mid-job")', language: 'python', mode: 'cached' });
      await new Promise((res) => setTimeout(res, 1000)); // running in its sandboxes now
      await b.killEve();
      const r = await sdk.waitForResult(jobId, { quorum: 2, timeoutMs: 60_000 });
      expect(r.operators.sort()).toEqual([b.addresses.bob, b.addresses.dave].sort());
      expect(await evmJobCall(f, jobId)).toMatchObject({ resultCount: 2, completed: false });
      await b.startEve();
      await expect.poll(() => eveCount(jobId), { timeout: 60_000 }).toBe(1);
      expect(await evmJobCall(f, jobId)).toMatchObject({ resultCount: 3, completed: true });
      expect((await sdk.waitForResult(jobId, { quorum: 3, timeoutMs: 10_000 })).verified).toBe(true);
      await new Promise((res) => setTimeout(res, 1500));
      expect((await b.submitters(jobId)).sort()).toEqual(all());
    });

    it('a quorum the service owner set (2 of 3) completes a call at two results; the late operator records it as done, submitting nothing', async () => {
      const f = b.evm!;
      const required = () => f.caller.pub.readContract({ address: f.manager, abi: managerAbi, functionName: 'getRequiredResultCount', args: [f.serviceId, 0] });
      expect(await required()).toBe(3); // by default: every operator of the service
      await setRequiredResults(f.deployer, f.manager, f.serviceId, 2);
      try {
        expect(await required()).toBe(2);
        await b.killEve();
        const jobId = await b.call('print("two suffice")');
        await expect.poll(async () => (await evmJobCall(f, jobId)).completed, { timeout: 60_000 }).toBe(true);
        expect((await b.submitters(jobId)).sort()).toEqual([b.addresses.bob, b.addresses.dave].sort());
        await b.startEve();
        const eveStore = new JobStore(b.eveDbPath);
        try {
          await expect.poll(() => eveStore.get(f.serviceId, jobId)?.status, { timeout: 60_000 }).toBe('submitted');
        } finally {
          eveStore.close();
        }
        expect(await b.submitters(jobId)).toHaveLength(2);
        expect((await b.client().waitForResult(jobId, { timeoutMs: 10_000 })).verified).toBe(true);
        // A quorum of 3 cannot come any more: the client says so at once instead of timing out.
        const t = Date.now();
        const three = await b.client().waitForResult(jobId, { quorum: 3, timeoutMs: 30_000 });
        expect(Date.now() - t).toBeLessThan(5_000);
        expect(three.verified).toBe(false);
        expect(three.verificationError).toMatch(/no quorum: 2 of the 3/);
      } finally {
        await setRequiredResults(f.deployer, f.manager, f.serviceId, 0);
      }
    });
  }

  if (backend === 'substrate') {
    it('operator start-up subscribes before it scans stored calls: a call made during the scan is answered', async () => {
      const { node, keys: k } = b.substrate!;
      await b.bob.stop();
      // A fresh store (no last block) and a chain client whose storage scan lets a call land
      // right after it read the stored calls: the window the old start-up order missed.
      const fresh = new InProcessOperator('//Bob', engine, node.url);
      let made: bigint | null = null;
      class RacingClient extends PolkadotTangleClient {
        override async storedJobCalls(ids: bigint[]): Promise<JobCall[]> {
          const calls = await super.storedJobCalls(ids);
          made = await b.call('print("made during the scan")');
          return calls;
        }
      }
      const racing = new RacingClient({ rpcUrl: node.url, suri: '//Bob', log: createLogger('warn') });
      try {
        await fresh.start([b.substrate!.serviceId], { client: racing });
        expect(made).not.toBeNull();
        await expect.poll(async () => (await b.submitters(made!)).includes(k.bob.address), { timeout: 30_000 }).toBe(true);
        await fresh.operator!.idle();
        expect(fresh.store.get(BigInt(b.substrate!.serviceId), made!)?.status).toBe('submitted');
      } finally {
        await fresh.close();
        await b.bob.start();
      }
    });
  }
});
