// The Python SDK's SCALE codec (sdk/python/faas_sdk/chain), driven by the chain's own metadata,
// against @polkadot/types on the same metadata, byte for byte: calls, signed extrinsics, storage
// keys, storage values and System.Events taken from a local node after real FaaS traffic; and
// its ed25519 accounts (and the operators' ecdsa keys and signatures) against @polkadot/keyring.
import { WsProvider } from '@polkadot/api';
import type { ApiPromise } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { Codec } from '@polkadot/types/types';
import { u8aToHex } from '@polkadot/util';
import { mnemonicGenerate } from '@polkadot/util-crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXECUTE_RESULT, argsHash, encodeExecuteArgs, encodeStatement, faasBlueprint, operatorSigningKey, outputHash, signStatement, stringField, verifyStatement } from '@faas/sdk/blueprint';
import { send, sendRaw, setupFaasService, startChain } from '../chain/fixtures.js';
import type { DevKeys } from '../chain/fixtures.js';
import { canon, crosscheck } from './python-helpers.js';

type Json = Record<string, unknown>;
let chain: Awaited<ReturnType<typeof startChain>>;
let api: ApiPromise;
let k: DevKeys;
let raw: WsProvider;
let blueprintId: number;
let serviceId: number;
let callId: bigint;
const ed = new Keyring({ type: 'ed25519', ss58Format: 42 });
const py = (n: bigint | number) => ({ $int: n.toString() });

/** The raw value at `key` at block `hash` (head when omitted). */
const storageHex = (key: string, hash?: string) => raw.send<string | null>('state_getStorage', hash ? [key, hash] : [key]);

beforeAll(async () => {
  chain = await startChain();
  ({ api, keys: k } = chain);
  raw = new WsProvider(chain.node.url);
  await raw.isReady;
  // Real traffic, so the blocks hold the events the client has to read.
  ({ blueprintId, serviceId } = await setupFaasService(api, { owner: k.alice, operator: k.bob, permitted: [k.charlie.address] }));
  const called = await send(api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'print(6 * 7)', language: 'python', stdin: '0x12 looks like hex' })), k.charlie);
  callId = BigInt(called.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
  const result = EXECUTE_RESULT.map((r, i) => (r.type === 'Uint8' ? { Uint8: 0 } : r.type === 'Bool' ? { Bool: true } : stringField(i === 1 ? '42\n' : `field ${i} ✓`)));
  await send(api.tx.services!.submitResult!(serviceId, callId, result), k.bob);
  // A failing call (a module error) and a plain transfer to an ed25519 account.
  await sendRaw(api.tx.services!.call!(999, 0, []), k.charlie);
  await send(api.tx.balances!.transferKeepAlive!(ed.addFromUri('//Py').address, 10n ** 18n), k.dave);
});

afterAll(async () => {
  await raw?.disconnect();
  await chain?.stop();
});

describe('Python SCALE codec from the chain metadata (faas_sdk.chain) against @polkadot/types', () => {
  it('decodes the metadata the node serves and encodes calls byte for byte', async () => {
    const bob = k.bob.address;
    const blueprint = faasBlueprint();
    const cases: Array<{ py: { pallet: string; call: string; args: unknown }; ts: { method: { toHex(): string } } }> = [
      { py: { pallet: 'System', call: 'remark', args: { remark: 'hello, tangle' } }, ts: api.tx.system!.remark!('hello, tangle') },
      { py: { pallet: 'Balances', call: 'transfer_keep_alive', args: { dest: bob, value: py(10n ** 18n + 7n) } }, ts: api.tx.balances!.transferKeepAlive!(bob, 10n ** 18n + 7n) },
      // Positional args and camelCase names, as well as a text that looks like hex and one that is not ASCII.
      {
        py: { pallet: 'services', call: 'call', args: [py(serviceId), 0, [{ String: 'print(6 * 7)' }, { String: 'python' }, { String: '' }, { String: '{"memoryMb":256}' }, { String: '0x12' }, { String: 'héllo ✓' }]] },
        ts: api.tx.services!.call!(serviceId, 0, [stringField('print(6 * 7)'), stringField('python'), stringField(''), stringField('{"memoryMb":256}'), stringField('0x12'), stringField('héllo ✓')]),
      },
      {
        py: { pallet: 'Services', call: 'submitResult', args: { serviceId: py(serviceId), callId: py(callId), result: [{ Uint8: 3 }, { String: 'out' }, { String: '' }, { Bool: false }, { String: `0x${'ab'.repeat(32)}` }, { String: `0x${'cd'.repeat(32)}` }, { String: `0x${'ef'.repeat(65)}` }] } },
        ts: api.tx.services!.submitResult!(serviceId, callId, [{ Uint8: 3 }, stringField('out'), stringField(''), { Bool: false }, stringField(`0x${'ab'.repeat(32)}`), stringField(`0x${'cd'.repeat(32)}`), stringField(`0x${'ef'.repeat(65)}`)]),
      },
      {
        py: { pallet: 'Services', call: 'register', args: { blueprint_id: py(blueprintId), preferences: { key: { $hex: `0x04${'11'.repeat(64)}` }, rpc_address: 'http://127.0.0.1:8080' }, registration_args: [], value: 0 } },
        ts: api.tx.services!.register!(blueprintId, { key: `0x04${'11'.repeat(64)}`, rpcAddress: 'http://127.0.0.1:8080' }, [], 0),
      },
      {
        py: {
          pallet: 'Services',
          call: 'request',
          args: {
            evm_origin: null,
            blueprint_id: py(blueprintId),
            permitted_callers: [k.charlie.address, ed.addFromUri('//Py').address],
            operators: [bob, k.dave.address],
            request_args: [],
            asset_security_requirements: [{ asset: { Custom: 0 }, min_exposure_percent: 10, max_exposure_percent: 100 }],
            ttl: 1000,
            payment_asset: { Custom: 0 },
            value: 0,
            membership_model: { Fixed: { min_operators: 2 } },
          },
        },
        ts: api.tx.services!.request!(null, blueprintId, [k.charlie.address, ed.addFromUri('//Py').address], [bob, k.dave.address], [], [{ asset: { Custom: 0 }, minExposurePercent: 10, maxExposurePercent: 100 }], 1000, { Custom: 0 }, 0, { Fixed: { minOperators: 2 } }),
      },
      { py: { pallet: 'MultiAssetDelegation', call: 'join_operators', args: { bond_amount: py(10n ** 18n) } }, ts: api.tx.multiAssetDelegation!.joinOperators!(10n ** 18n) },
      // The whole blueprint, given with the camelCase names the TypeScript side uses.
      { py: { pallet: 'Services', call: 'create_blueprint', args: { blueprint } }, ts: api.tx.services!.createBlueprint!(blueprint) },
      // A call inside a call (Box<RuntimeCall>).
      {
        py: { pallet: 'Sudo', call: 'sudo', args: { call: { Balances: { force_set_balance: { who: bob, new_free: py(5n * 10n ** 20n) } } } } },
        ts: api.tx.sudo!.sudo!(api.tx.balances!.forceSetBalance!(bob, 5n * 10n ** 20n)),
      },
    ];
    const out = await crosscheck<{ calls: string[] }>({ metadata: await api.rpc.state.getMetadata().then((m) => m.toHex()), calls: cases.map((c) => c.py) });
    expect(out.calls).toHaveLength(cases.length);
    cases.forEach((c, i) => expect(out.calls[i], `${c.py.pallet}.${c.py.call}`).toBe(c.ts.method.toHex()));
  });

  it('signs v4 extrinsics with the runtime signed extensions byte for byte (ed25519, mortal and immortal, tips, long payloads)', async () => {
    const genesisHash = api.genesisHash.toHex();
    const blockHash = `0x${'5a'.repeat(32)}`;
    const mnemonic = mnemonicGenerate(12);
    const cases = [
      { uri: '//Alice', call: { pallet: 'System', call: 'remark', args: { remark: 'x' } }, ts: () => api.tx.system!.remark!('x'), nonce: 0, tip: 0n, era: null },
      { uri: '//Py', call: { pallet: 'System', call: 'remark', args: { remark: 'mortal' } }, ts: () => api.tx.system!.remark!('mortal'), nonce: 7, tip: 0n, era: { current: 1000, period: 64 } },
      { uri: `${mnemonic}//faas//0`, call: { pallet: 'Balances', call: 'transfer_keep_alive', args: { dest: k.bob.address, value: py(123456789n) } }, ts: () => api.tx.balances!.transferKeepAlive!(k.bob.address, 123456789n), nonce: 70_000, tip: 10n ** 15n, era: { current: 12_345_678, period: 4096 } },
      // More than 256 bytes to sign: the signature covers their blake2-256.
      { uri: '//Py', call: { pallet: 'Services', call: 'create_blueprint', args: { blueprint: faasBlueprint() } }, ts: () => api.tx.services!.createBlueprint!(faasBlueprint()), nonce: 1, tip: 0n, era: { current: 5, period: 10 } },
    ];
    const out = await crosscheck<{ extrinsics: string[] }>({
      metadata: api.runtimeMetadata.toHex(),
      genesisHash,
      extrinsics: cases.map((c) => ({ uri: c.uri, call: c.call, nonce: c.nonce, tip: c.tip.toString(), era: c.era, blockHash })),
    });
    for (const [i, c] of cases.entries()) {
      const tx = c.ts();
      const era = c.era ? api.registry.createType('ExtrinsicEra', c.era) : api.registry.createType('ExtrinsicEra', '0x00');
      tx.sign(ed.addFromUri(c.uri), { blockHash: c.era ? blockHash : genesisHash, era, genesisHash, nonce: c.nonce, runtimeVersion: api.runtimeVersion, tip: c.tip });
      expect(out.extrinsics[i], `${c.call.pallet}.${c.call.call} signed by ${c.uri}`).toBe(tx.toHex());
    }
  });

  it('makes storage keys with the real hashers (Identity, Blake2_128Concat, Twox) and decodes the values stored', async () => {
    const q = api.query;
    const keys = [
      { py: { pallet: 'System', item: 'Account', keys: [k.alice.address] }, ts: q.system!.account!.key(k.alice.address) },
      { py: { pallet: 'Services', item: 'JobResults', keys: [serviceId, py(callId)] }, ts: q.services!.jobResults!.key(serviceId, callId) },
      { py: { pallet: 'Services', item: 'JobCalls', keys: [serviceId, py(callId)] }, ts: q.services!.jobCalls!.key(serviceId, callId) },
      { py: { pallet: 'Services', item: 'Operators', keys: [blueprintId, k.bob.address] }, ts: q.services!.operators!.key(blueprintId, k.bob.address) },
      { py: { pallet: 'Services', item: 'Instances', keys: [serviceId] }, ts: q.services!.instances!.key(serviceId) },
      { py: { pallet: 'Services', item: 'Blueprints', keys: [blueprintId] }, ts: q.services!.blueprints!.key(blueprintId) },
      { py: { pallet: 'Services', item: 'NextJobCallId', keys: [] }, ts: q.services!.nextJobCallId!.key() },
      { py: { pallet: 'MultiAssetDelegation', item: 'Operators', keys: [k.bob.address] }, ts: q.multiAssetDelegation!.operators!.key(k.bob.address) },
      { py: { pallet: 'System', item: 'Events', keys: [] }, ts: q.system!.events!.key() },
    ];
    const values = await Promise.all(keys.map(async (c) => ({ pallet: c.py.pallet, item: c.py.item, hex: await storageHex(c.ts) })));
    expect(values.every((v) => v.hex !== null)).toBe(true);
    const out = await crosscheck<{ storageKeys: string[]; storageValues: unknown[] }>({ metadata: api.runtimeMetadata.toHex(), storageKeys: keys.map((c) => c.py), storageValues: values });
    keys.forEach((c, i) => expect(out.storageKeys[i], `${c.py.pallet}.${c.py.item}`).toBe(c.ts));
    const decoded = await Promise.all([
      q.system!.account!(k.alice.address),
      q.services!.jobResults!(serviceId, callId),
      q.services!.jobCalls!(serviceId, callId),
      q.services!.operators!(blueprintId, k.bob.address),
      q.services!.instances!(serviceId),
      q.services!.blueprints!(blueprintId),
      q.services!.nextJobCallId!(),
      q.multiAssetDelegation!.operators!(k.bob.address),
    ]);
    // (System.Events, the last key, is compared event by event in the next test.)
    expect(decoded).toHaveLength(keys.length - 1);
    decoded.forEach((d, i) => expect(out.storageValues[i], `${keys[i]!.py.pallet}.${keys[i]!.py.item}`).toEqual(canon(d as Codec)));
  });

  it('decodes System.Events of every block as @polkadot/types does', async () => {
    const head = chain.node.chain.head.number;
    const key = api.query.system!.events!.key();
    const blobs: string[] = [];
    for (let n = 1; n <= head; n++) blobs.push((await storageHex(key, chain.node.chain.block(n)!.hash))!);
    const out = await crosscheck<{ events: Json[][] }>({ metadata: api.runtimeMetadata.toHex(), events: blobs });
    const seen = new Set<string>();
    blobs.forEach((hex, b) => {
      const records = api.registry.createType('Vec<EventRecord>', hex) as unknown as Array<{ phase: { isApplyExtrinsic: boolean; asApplyExtrinsic: Codec; type: string }; event: { section: string; method: string; data: Codec[] & { names: string[] | null } }; topics: Codec[] }>;
      const expected = records.map((r) => {
        seen.add(`${r.event.section}.${r.event.method}`);
        return {
          phase: r.phase.isApplyExtrinsic ? { ApplyExtrinsic: r.phase.asApplyExtrinsic.toString() } : r.phase.type,
          section: r.event.section.toLowerCase(),
          method: r.event.method,
          names: r.event.data.names,
          data: [...r.event.data].map(canon),
          topics: r.topics.map((t) => t.toHex()),
        };
      });
      expect(out.events[b], `block ${b + 1}`).toEqual(expected);
    });
    // The ones the client relies on were among them.
    for (const e of ['services.JobCalled', 'services.JobResultSubmitted', 'services.ServiceInitiated', 'system.ExtrinsicFailed', 'system.ExtrinsicSuccess', 'balances.Transfer']) expect(seen).toContain(e);
  });
});

describe('Python ed25519 accounts (faas_sdk.chain.keys) against @polkadot/keyring', () => {
  it('derives the same address as Keyring({ type: "ed25519" }).addFromUri for dev URIs, mnemonics, seeds and junctions', async () => {
    const m12 = mnemonicGenerate(12);
    const m24 = mnemonicGenerate(24);
    const uris = [
      '//Alice',
      '//Bob',
      '//Charlie//stash',
      '//Alice///secret',
      'bottom drive obey lake curtain smoke basket hold race lonely fit walk',
      m12,
      `${m12}//faas//0`,
      `${m12}///a password`,
      `${m24}//42//0x1234//${'long junction '.repeat(4)}`,
      `0x${'07'.repeat(32)}//x`,
      '//héllo',
      'Alice',
    ];
    const out = await crosscheck<{ keys: Array<{ address: string; publicKey: string }> }>({ metadata: api.runtimeMetadata.toHex(), keys: uris.map((uri) => ({ uri })) });
    uris.forEach((uri, i) => {
      const pair = ed.addFromUri(uri);
      expect(out.keys[i], uri).toEqual({ address: pair.address, publicKey: u8aToHex(pair.publicKey) });
    });
  });

  it('derives and signs with ecdsa keys as the keyring does (deterministic r‖s‖v over blake2-256), and verifies the keyring’s signatures', async () => {
    const ec = new Keyring({ type: 'ecdsa' });
    const message = u8aToHex(new TextEncoder().encode('tangle-faas statement '.repeat(20)));
    const uris = ['//Bob', '//Alice//operator', `${mnemonicGenerate(12)}//7`];
    const out = await crosscheck<{ ecdsa: Array<{ publicKey: string; signature: string; verifiesTheirs: boolean }> }>({
      metadata: api.runtimeMetadata.toHex(),
      ecdsa: uris.map((uri) => ({ uri, message, theirSignature: u8aToHex(ec.addFromUri(uri).sign(message)) })),
    });
    uris.forEach((uri, i) => {
      const pair = ec.addFromUri(uri);
      expect(out.ecdsa[i]!.publicKey, uri).toBe(u8aToHex(pair.publicKey));
      expect(out.ecdsa[i]!.signature, uri).toBe(u8aToHex(pair.sign(message)));
      expect(out.ecdsa[i]!.verifiesTheirs, uri).toBe(true);
    });
  });
});

describe('Python FaaS job contract (faas_sdk.chain.statement) against sdk/typescript/src/blueprint/statement.ts', () => {
  it('hashes outputs and arguments, encodes and signs statements byte for byte, and verifies the TypeScript signatures', async () => {
    const outputs = [
      { exitCode: 0, stdout: '42\n', stderr: '' },
      { exitCode: 137, stdout: 'é✓'.repeat(300), stderr: 'killed\n' },
      { exitCode: 255, stdout: '', stderr: 'VALIDATION_ERROR: resources: is not valid JSON' },
    ];
    const stored = (await api.query.services!.jobCalls!(serviceId, callId)) as unknown as { unwrap(): { args: Codec[] } };
    const statement = {
      genesisHash: api.genesisHash.toHex(),
      blueprintId: BigInt(blueprintId),
      serviceId: BigInt(serviceId),
      callId: 2n ** 40n + callId,
      job: 0,
      argsHash: argsHash([...stored.unwrap().args]),
      imageHash: `0x${'9f'.repeat(32)}`,
      exitCode: 0,
      outputHash: outputHash(outputs[0]!),
    };
    const uris = ['//Bob', '//Eve//faas'];
    const keys = await Promise.all(uris.map((u) => operatorSigningKey(u)));
    const out = await crosscheck<{ outputHashes: string[]; argsHashes: string[]; statements: Array<Record<string, string | boolean>> }>({
      metadata: api.runtimeMetadata.toHex(),
      outputs,
      args: [{ code: 'print(6 * 7)', language: 'python', stdin: '0x12 looks like hex' }],
      statements: uris.map((uri, i) => ({
        uri,
        registeredKey: keys[i]!.registeredKey,
        theirSignature: signStatement(keys[i]!.pair, statement),
        statement: { ...statement, blueprintId: statement.blueprintId.toString(), serviceId: statement.serviceId.toString(), callId: statement.callId.toString() },
      })),
    });
    expect(out.outputHashes).toEqual(outputs.map(outputHash));
    expect(out.argsHashes).toEqual([statement.argsHash]);
    uris.forEach((uri, i) => {
      const s = out.statements[i]!;
      expect(s.encoded, uri).toBe(u8aToHex(encodeStatement(statement)));
      expect(s.signature, uri).toBe(signStatement(keys[i]!.pair, statement));
      expect(verifyStatement(statement, s.signature as string, keys[i]!.registeredKey)).toBe(true);
      expect([s.verifiesTheirs, s.rejectsTheirsForAnotherCall, s.rejectsTheirsForAnotherKey], uri).toEqual([true, true, true]);
    });
  });
});
