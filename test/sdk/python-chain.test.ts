// The Python TangleFaaSClient (sdk/python/faas_sdk/chain) end to end on the local Tangle node
// with real operators (the TypeScript operator and the Docker engine): this file sets up the
// services and operators, runs the pytest suite sdk/python/tests_chain against them, and then
// checks what the Python side signed and submitted with the TypeScript reference
// (sdk/typescript/src/blueprint/statement.ts and the TypeScript TangleFaaSClient).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiPromise } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import type { LocalNode } from '../../chain/src/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { registerOperators, requestService, send, setupFaasService, startChain } from '../chain/fixtures.js';
import type { DevKeys } from '../chain/fixtures.js';
import { makeEngine, ourContainers } from '../helpers.js';
import { InProcessOperator, freePort } from '../operator/operators.js';
import { PY_SDK, runPython } from './python-helpers.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let node: LocalNode;
let api: ApiPromise;
let k: DevKeys;
let engine: DockerSandboxEngine;
let bob: InProcessOperator;
let dave: InProcessOperator;
let env: Record<string, string>;
const dir = mkdtempSync('/var/tmp/pychain-');
const ed = new Keyring({ type: 'ed25519', ss58Format: 42 });
// Python's accounts are ed25519: the same URIs give these addresses there.
const uris = { caller: '//PyCaller', rogue: '//PyRogue', outsider: '//PyOutsider' };
const caller = ed.addFromUri(uris.caller);
const rogue = ed.addFromUri(uris.rogue);
const outsider = ed.addFromUri(uris.outsider);

beforeAll(async () => {
  chain = await startChain();
  ({ node, api, keys: k } = chain);
  engine = makeEngine({ FAAS_OWNER_MAX_CONTAINERS: '4' });
  await engine.start();
  // Fund the Python side's ed25519 accounts from //Alice.
  for (const who of [caller, rogue, outsider]) await send(api.tx.balances!.transferKeepAlive!(who.address, 1000n * 10n ** 18n), k.alice);
  bob = new InProcessOperator('//Bob', engine, node.url);
  dave = new InProcessOperator('//Dave', engine, node.url);
  const roguePort = await freePort();
  // Service 1: //Bob alone. The caller is permitted on every service.
  const { blueprintId, serviceId } = await setupFaasService(api, { owner: k.alice, permitted: [caller.address], operators: [{ pair: k.bob, key: await bob.key(), rpcAddress: await bob.serveApi() }] });
  // The rogue (driven by the Python tests, its API served by them) and an outsider register for the blueprint.
  await registerOperators(api, blueprintId, [
    { pair: k.dave, key: await dave.key(), rpcAddress: await dave.serveApi() },
    { pair: rogue, key: (await operatorSigningKey(uris.rogue)).registeredKey, rpcAddress: `http://127.0.0.1:${roguePort}` },
    { pair: outsider, key: (await operatorSigningKey(uris.outsider)).registeredKey, rpcAddress: 'http://127.0.0.1:9' },
  ]);
  const quorumService = await requestService(api, blueprintId, k.alice, [k.bob, k.dave, rogue], [caller.address]);
  const rogueService = await requestService(api, blueprintId, k.alice, [rogue], [caller.address]);
  await Promise.all([bob.start([serviceId, quorumService]), dave.start([quorumService])]);
  env = {
    FAAS_CHAIN_RPC: node.url,
    FAAS_CHAIN_BLUEPRINT: String(blueprintId),
    FAAS_CHAIN_SERVICE: String(serviceId),
    FAAS_CHAIN_QUORUM_SERVICE: String(quorumService),
    FAAS_CHAIN_ROGUE_SERVICE: String(rogueService),
    FAAS_CHAIN_CALLER: uris.caller,
    FAAS_CHAIN_ROGUE: uris.rogue,
    FAAS_CHAIN_OUTSIDER: uris.outsider,
    FAAS_CHAIN_ROGUE_API_PORT: String(roguePort),
    FAAS_CHAIN_BOB: k.bob.address,
    FAAS_CHAIN_DAVE: k.dave.address,
    FAAS_CHAIN_REPORT: join(dir, 'report.json'),
  };
});

afterAll(async () => {
  await bob?.close();
  await dave?.close();
  await engine?.shutdown();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(await ourContainers()).toEqual([]);
});

describe('Python TangleFaaSClient on the local node with real operators', () => {
  it('passes its pytest suite (ed25519 transactions, jobs answered and verified, tampered output, foreign signers, quorum)', async () => {
    const r = await runPython(['-m', 'pytest', '-v', '-p', 'no:cacheprovider', 'tests_chain'], { env: { ...env, PYTHONPATH: PY_SDK }, timeoutMs: 540_000, cwd: PY_SDK });
    const out = `${r.stdout}${r.stderr}`;
    const summary = out.trim().split('\n').at(-1) ?? '';
    process.stdout.write(`${r.stdout.split('\n').filter((l) => /PASSED|FAILED|ERROR|SKIPPED/.test(l)).join('\n')}\n${summary}\n`);
    expect(r.code, out).toBe(0);
    expect(summary).toMatch(/\d+ passed/);
    expect(summary).not.toMatch(/failed|error|skipped/);
  }, 600_000);

  it('what the Python side signed and submitted verifies with the TypeScript client too', async () => {
    const report = JSON.parse(readFileSync(env.FAAS_CHAIN_REPORT!, 'utf8')) as { honestJob: number; dissentJob: number; agreedJob: number };
    const ts = new TangleFaaSClient({ rpcUrl: node.url, blueprintId: Number(env.FAAS_CHAIN_BLUEPRINT), serviceId: Number(env.FAAS_CHAIN_QUORUM_SERVICE), account: '//Charlie' });
    try {
      // The rogue's statement, signed in Python, agrees with the two real operators'.
      const agreed = await ts.waitForResult(BigInt(report.agreedJob), { quorum: 3, timeoutMs: 30_000 });
      expect(agreed.verified).toBe(true);
      expect(agreed.operators.sort()).toEqual([k.bob.address, k.dave.address, rogue.address].sort());
      // Its genuinely signed different output is dissent there as well.
      const dissent = await ts.waitForResult(BigInt(report.dissentJob), { quorum: 3, timeoutMs: 30_000 });
      expect(dissent.verified).toBe(false);
      expect(dissent.dissent.map((d) => [d.operator, d.verified])).toEqual([[rogue.address, true]]);
    } finally {
      await ts.disconnect();
    }
    expect(report.honestJob).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
