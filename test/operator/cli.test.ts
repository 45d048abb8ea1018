// The operator CLI as a user runs it (a child process against the local node): `register`
// joins with a bond given in tTNT and registers with the signing key and API address, a second
// time changes nothing, `status` shows where the account stands (amounts in tTNT with the
// chain's 18 decimals); a call the pallet refuses is told with the error's name and docs from
// the metadata; the account's secret never appears in the output.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { u8aToString } from '@polkadot/util';
import { mnemonicGenerate } from '@polkadot/util-crypto';
import type { AugmentedError } from '@polkadot/api/types';
import type { Codec } from '@polkadot/types/types';
import { Keyring } from '@polkadot/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faasBlueprint } from '@faas/sdk/blueprint';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { JobStore } from '../../src/store/index.js';
import { send, startChain } from '../chain/fixtures.js';
import { runOperatorCli } from '../helpers.js';
import { formatAmount } from '../../src/operator/units.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let dir: string;
let blueprintId: number;
const mnemonic = mnemonicGenerate();
let address: string;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const r = await runOperatorCli(args, { FAAS_RPC_URL: chain.node.url, FAAS_SURI: mnemonic, FAAS_DB_PATH: join(dir, 'op.db'), ...env });
  expect(r.out).not.toContain(mnemonic.split(' ').slice(0, 3).join(' ')); // the secret is never printed
  return r;
}

beforeAll(async () => {
  chain = await startChain();
  dir = mkdtempSync(join(tmpdir(), 'faas-cli-'));
  const { api, keys } = chain;
  address = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(mnemonic).address;
  await send(api.tx.balances!.transferKeepAlive!(address, 10n ** 21n), keys.alice);
  const r = await send(api.tx.services!.createBlueprint!(faasBlueprint()), keys.alice);
  blueprintId = Number(r.events.find(({ event }) => event.method === 'BlueprintCreated')!.event.data[1]!.toString());
});

afterAll(async () => {
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('operator CLI', () => {
  it('register: joins the operators and registers for the blueprint with its key and API address; again: nothing to do', async () => {
    // 2.5 tTNT, typed as people count (the chain's decimals are 18).
    const first = await cli(['register', '--blueprint', String(blueprintId), '--api-url', 'http://127.0.0.1:18080', '--bond', '2.5']);
    expect(first.code).toBe(0);
    expect(first.out).toContain('joined the operators with a bond of 2.5 tTNT');
    const op = (await chain.api.query.multiAssetDelegation!.operators!(address)) as unknown as { unwrap(): { stake: Codec } };
    expect(BigInt(op.unwrap().stake.toString())).toBe(2_500_000_000_000_000_000n);
    expect(first.out).toContain(`registered for blueprint ${blueprintId} with API http://127.0.0.1:18080`);
    const prefs = ((await chain.api.query.services!.operators!(blueprintId, address)) as unknown as { unwrap(): { key: Codec; rpcAddress: Codec } }).unwrap();
    expect(prefs.key.toHex()).toBe((await operatorSigningKey(mnemonic)).registeredKey);
    expect(u8aToString(prefs.rpcAddress.toU8a(true))).toBe('http://127.0.0.1:18080');
    const again = await cli(['register', '--blueprint', String(blueprintId)]);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`already registered for blueprint ${blueprintId}`);
    expect(again.out).not.toContain('joined');
  });

  it('status: balance, operator state, registrations, services and the job store', async () => {
    const { api, keys } = chain;
    const native = { Custom: 0 };
    const request = api.tx.services!.request!(null, blueprintId, [], [address], [], [{ asset: native, minExposurePercent: 10, maxExposurePercent: 100 }], 1000, native, 0, { Fixed: { minOperators: 1 } });
    const requestId = (await send(request, keys.alice)).events.find(({ event }) => event.method === 'ServiceRequested')!.event.data[1]!.toString();
    const operatorPair = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(mnemonic);
    const approved = await send(api.tx.services!.approve!(requestId, [{ asset: native, exposurePercent: 50 }]), operatorPair);
    const serviceId = approved.events.find(({ event }) => event.method === 'ServiceInitiated')!.event.data[2]!.toString();
    const store = new JobStore(join(dir, 'op.db'));
    store.insert({ serviceId: BigInt(serviceId), callId: 0n, job: 0, caller: address, args: [], argsHash: '', blockNumber: 1 });
    store.close();
    const s = await cli(['status']);
    expect(s.code).toBe(0);
    expect(s.out).toContain(`operator ${address}`);
    expect(s.out).toContain('operator: Active, stake 2.5 tTNT');
    const free = BigInt(((await api.query.system!.account!(address)) as unknown as { data: { free: Codec } }).data.free.toString());
    expect(s.out).toContain(`balance: free ${formatAmount(free, { symbol: 'tTNT', decimals: 18 })}, reserved `);
    expect(s.out).toMatch(/balance: free 99\d\.\d+ tTNT/); // 1000 tTNT less the bond and fees
    expect(s.out).toContain(`registered for blueprint ${blueprintId}: API http://127.0.0.1:18080`);
    expect(s.out).toContain(`services operated: ${serviceId}`);
    expect(s.out).toMatch(/0 submitted, 0 executed awaiting submission, 1 received/);
  });

  it('a missing or bad setting is a usage error naming it, exit 2', async () => {
    const noBlueprint = await cli(['register']);
    expect([noBlueprint.code, noBlueprint.out]).toEqual([2, expect.stringContaining('--blueprint (or FAAS_BLUEPRINT_ID) is needed')]);
    const badBond = await cli(['register', '--blueprint', '0', '--bond', 'lots']);
    expect([badBond.code, badBond.out]).toEqual([2, expect.stringContaining('--bond: expected a token amount such as 1.5, or raw units with the suffix "raw"')]);
    const bondFromEnv = await cli(['register', '--blueprint', '0'], { FAAS_BOND: '1.5.0' });
    expect([bondFromEnv.code, bondFromEnv.out]).toEqual([2, expect.stringContaining('FAAS_BOND: expected a token amount')]);
    // Known only once connected: more decimals than the chain's token has.
    const tooFine = await cli(['register', '--blueprint', '0', '--bond', '0.0000000000000000001']);
    expect([tooFine.code, tooFine.out]).toEqual([2, expect.stringContaining('--bond: 0.0000000000000000001 has more than the 18 decimals a tTNT has')]);
    const noSecret = await cli(['status'], { FAAS_SURI: '' });
    expect([noSecret.code, noSecret.out]).toEqual([2, expect.stringContaining('FAAS_SURI')]);
    const unknown = await cli(['launch']);
    expect([unknown.code, unknown.out]).toEqual([2, expect.stringContaining('unknown command launch')]);
  });

  it('a call the pallet refuses: its error decoded from the metadata (name and docs), exit 1, nothing joined', async () => {
    const { api, keys } = chain;
    const other = mnemonicGenerate();
    const otherAddress = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(other).address;
    await send(api.tx.balances!.transferKeepAlive!(otherAddress, 10n ** 21n), keys.alice);
    const min = BigInt(api.consts.multiAssetDelegation!.minOperatorBondAmount!.toString());
    const below = await cli(['register', '--blueprint', String(blueprintId), '--bond', `${min - 1n}raw`], { FAAS_SURI: other });
    const docs = (api.errors.multiAssetDelegation!.BondTooLow as AugmentedError<'promise'>).meta.docs.map(String).join(' ').trim();
    expect(docs.length).toBeGreaterThan(0);
    expect(below.code).toBe(1);
    expect(below.out).toContain(`faas-operator register: multiAssetDelegation.BondTooLow: ${docs}\n`);
    expect(below.out).not.toMatch(/dispatchError|"module"|\n\s+at /); // no raw error, no stack
    expect(below.out).not.toContain(other.split(' ').slice(0, 3).join(' '));
    expect(Number((await api.query.multiAssetDelegation!.operators!.size(otherAddress)).toString())).toBe(0);
  });
});
