// The services pallet on the local node, end to end as an operator and a developer use it:
// blueprint → operator joins and registers → service requested and approved → job called →
// result submitted; with the pallet's checks (origin, registration, type check) on the way.
import type { ApiPromise } from '@polkadot/api';
import type { ISubmittableResult } from '@polkadot/types/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOperators, sendRaw as send, startChain } from './fixtures.js';
import type { DevKeys } from './fixtures.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let api: ApiPromise;
let k: DevKeys;

const events = (r: ISubmittableResult) => r.events.map(({ event }) => `${event.section}.${event.method}`);
const failure = (r: ISubmittableResult) => {
  const e = r.dispatchError;
  if (!e) return null;
  return e.isModule ? api.registry.findMetaError(e.asModule).name : e.type;
};
const tx = () => api.tx.services!;

const BLUEPRINT = {
  metadata: { name: 'faas', description: 'Verifiable function-as-a-service' },
  jobs: [
    {
      metadata: { name: 'execute' },
      params: ['String', 'String'], // code, language
      result: ['Uint8', 'String'], // exit code, stdout
      pricingModel: { PayOnce: { amount: 0 } },
    },
  ],
  registrationParams: [],
  requestParams: [],
  manager: { Evm: '0x0000000000000000000000000000000000000001' },
  masterManagerRevision: 'Latest',
  sources: [],
  supportedMembershipModels: ['Fixed'],
};
const operatorKey = `0x04${'11'.repeat(64)}`;
const native = { Custom: 0 };

beforeAll(async () => {
  chain = await startChain();
  ({ api, keys: k } = chain);
});

afterAll(async () => {
  await chain?.stop();
});

describe('services pallet', () => {
  it('runs the whole flow: blueprint, operator, service, job call, result', async () => {
    const created = await send(tx().createBlueprint!(BLUEPRINT), k.alice);
    expect(events(created)).toContain('services.BlueprintCreated');
    expect((await api.query.services!.nextBlueprintId!()).toString()).toBe('1');

    // An operator must have joined multi-asset delegation before it can register.
    const early = await send(tx().register!(0, { key: operatorKey, rpcAddress: 'http://127.0.0.1:8080' }, [], 0), k.bob);
    expect(failure(early)).toBe('OperatorNotActive');
    await send(api.tx.multiAssetDelegation!.joinOperators!(10n ** 18n), k.bob);
    const registered = await send(tx().register!(0, { key: operatorKey, rpcAddress: 'http://127.0.0.1:8080' }, [], 0), k.bob);
    expect(failure(registered)).toBeNull();
    expect(events(registered)).toContain('services.Registered');
    const prefs = (await api.query.services!.operators!(0, k.bob.address)) as unknown as { unwrap(): { key: { toHex(): string } } };
    expect(prefs.unwrap().key.toHex()).toBe(operatorKey);

    const requested = await send(
      tx().request!(null, 0, [k.charlie.address], [k.bob.address], [], [{ asset: native, minExposurePercent: 10, maxExposurePercent: 100 }], 1000, native, 0, { Fixed: { minOperators: 1 } }),
      k.alice,
    );
    expect(events(requested)).toContain('services.ServiceRequested');
    const approved = await send(tx().approve!(0, [{ asset: native, exposurePercent: 50 }]), k.bob);
    expect(events(approved)).toEqual(expect.arrayContaining(['services.ServiceRequestApproved', 'services.ServiceInitiated']));
    // Presence by size: the metadata's fallback makes a missing entry decode as Some(...).
    expect((await api.query.services!.instances!.size(0)).toNumber()).toBeGreaterThan(0);
    expect((await api.query.services!.instances!.size(1)).toNumber()).toBe(0);

    // A permitted caller (charlie) calls job 0; the operator submits the result.
    const called = await send(tx().call!(0, 0, [{ String: 'print(1)' }, { String: 'python' }]), k.charlie);
    const jobCalled = called.events.find(({ event }) => event.method === 'JobCalled')!.event;
    expect(jobCalled.data[0]!.toString()).toBe(k.charlie.address);
    const callId = Number(jobCalled.data[2]!.toString());
    expect((await api.query.services!.jobCalls!.size(0, callId)).toNumber()).toBeGreaterThan(0);
    expect((await api.query.services!.jobResults!.size(0, callId)).toNumber()).toBe(0);
    const submitted = await send(tx().submitResult!(0, callId, [{ Uint8: 0 }, { String: '1\n' }]), k.bob);
    expect(events(submitted)).toContain('services.JobResultSubmitted');
    type Field = { type: string; value: { toU8a(bare: boolean): Uint8Array; toString(): string } };
    const result = (await api.query.services!.jobResults!(0, callId)) as unknown as { unwrap(): { result: Field[] } };
    const [exitCode, stdout] = result.unwrap().result;
    expect([exitCode!.type, exitCode!.value.toString()]).toEqual(['Uint8', '0']);
    expect([stdout!.type, Buffer.from(stdout!.value.toU8a(true)).toString()]).toEqual(['String', '1\n']);
  });

  it('applies the pallet checks: caller permitted, arguments type-checked, submitter registered', async () => {
    const notPermitted = await send(tx().call!(0, 0, [{ String: 'x' }, { String: 'python' }]), k.dave);
    expect(failure(notPermitted)).toBe('BadOrigin');
    const wrongType = await send(tx().call!(0, 0, [{ Uint8: 1 }, { String: 'python' }]), k.charlie);
    expect(failure(wrongType)).toBe('TypeCheck');
    const tooFew = await send(tx().call!(0, 0, [{ String: 'x' }]), k.charlie);
    expect(failure(tooFew)).toBe('TypeCheck');
    const noJob = await send(tx().call!(0, 7, []), k.charlie);
    expect(failure(noJob)).toBe('JobDefinitionNotFound');
    const noService = await send(tx().call!(99, 0, []), k.charlie);
    expect(failure(noService)).toBe('ServiceNotFound');
    const called = await send(tx().call!(0, 0, [{ String: 'x' }, { String: 'python' }]), k.alice); // the owner may call
    const callId = Number(called.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
    const stranger = await send(tx().submitResult!(0, callId, [{ Uint8: 0 }, { String: '' }]), k.eve);
    expect(failure(stranger)).toBe('NotRegistered');
    const badResult = await send(tx().submitResult!(0, callId, [{ String: 'zero' }, { String: '' }]), k.bob);
    expect(failure(badResult)).toBe('TypeCheck');
    const unknownCall = await send(tx().submitResult!(0, 12345, [{ Uint8: 0 }, { String: '' }]), k.bob);
    expect(failure(unknownCall)).toBe('ServiceOrJobCallNotFound');
  });

  it('the bootstrap reports a failed step by the pallet error’s name and docs, not the raw dispatch error', async () => {
    // //Eve never joined the operators: registering her for blueprint 0 fails in the pallet.
    const err = await registerOperators(api, 0, [{ pair: k.eve, joined: true }]).then(
      () => new Error('registered'),
      (e: unknown) => e as Error,
    );
    const docs = api.errors.services!.OperatorNotActive!.meta.docs.map((d) => d.toString().trim()).filter(Boolean).join(' ');
    expect(err.message).toBe(`services.register failed: services.OperatorNotActive${docs ? `: ${docs}` : ''}`);
    expect(err.message).not.toMatch(/"module"|\{/);
  });
});
