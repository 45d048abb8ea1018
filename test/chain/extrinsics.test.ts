// Signed extrinsics on the local node, submitted by @polkadot/api as a wallet would:
// signature and nonce checks, fees, events decoded from System.Events, sudo.
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_BALANCE, FIXED_FEE } from '../../chain/src/index.js';
import type { LocalNode } from '../../chain/src/index.js';
import { sendRaw as send, startChain } from './fixtures.js';
import type { DevKeys } from './fixtures.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let node: LocalNode;
let api: ApiPromise;
let keys: DevKeys;
let alice: KeyringPair;
let bob: KeyringPair;
let charlie: KeyringPair;

beforeAll(async () => {
  chain = await startChain();
  ({ node, api, keys } = chain);
  ({ alice, bob, charlie } = keys);
});

afterAll(async () => {
  await chain?.stop();
});

const free = async (who: string) => ((await api.query.system!.account!(who)) as unknown as { data: { free: { toBigInt(): bigint } } }).data.free.toBigInt();
const names = (r: ISubmittableResult) => r.events.map(({ event }) => `${event.section}.${event.method}`);

describe('signed extrinsics on the local node', () => {
  it('transfers a balance: fee paid, events emitted, nonce bumped', async () => {
    const amount = 12_345n * 10n ** 15n;
    const before = { alice: await free(alice.address), bob: await free(bob.address) };
    const result = await send(api.tx.balances!.transferKeepAlive!(bob.address, amount), alice);
    expect(names(result)).toEqual([
      'balances.Withdraw',
      'balances.Transfer',
      'transactionPayment.TransactionFeePaid',
      'system.ExtrinsicSuccess',
    ]);
    const transfer = result.events.find(({ event }) => event.method === 'Transfer')!.event;
    expect(transfer.data[0]!.toString()).toBe(alice.address);
    expect(transfer.data[1]!.toString()).toBe(bob.address);
    expect(BigInt(transfer.data[2]!.toString())).toBe(amount);
    const feePaid = result.events.find(({ event }) => event.method === 'TransactionFeePaid')!.event;
    expect(BigInt(feePaid.data[1]!.toString())).toBe(FIXED_FEE);
    expect(await free(alice.address)).toBe(before.alice - amount - FIXED_FEE);
    expect(await free(bob.address)).toBe(before.bob + amount);
    expect((await api.rpc.system.accountNextIndex(alice.address)).toNumber()).toBe(1);
  });

  it('refuses a bad signature with Invalid Transaction (1010), changing nothing', async () => {
    const tx = api.tx.balances!.transferKeepAlive!(bob.address, 1n);
    await tx.signAsync(charlie);
    const bytes = tx.toU8a();
    // Flip one byte of the signature (it follows the 1-byte length, version and 33-byte address).
    bytes[40] = bytes[40]! ^ 0xff;
    const head = node.chain.head.number;
    await expect(api.rpc.author.submitExtrinsic(bytes)).rejects.toThrow(/1010.*bad signature/);
    expect(node.chain.head.number).toBe(head);
  });

  it('refuses a replayed (outdated) nonce', async () => {
    const tx = api.tx.system!.remark!('0x01');
    await tx.signAsync(bob, { nonce: 0 });
    await api.rpc.author.submitExtrinsic(tx.toHex());
    await expect(api.rpc.author.submitExtrinsic(tx.toHex())).rejects.toThrow(/outdated/);
  });

  it('a failing call still pays its fee and reports ExtrinsicFailed with the module error', async () => {
    const before = await free(charlie.address);
    const result = await send(api.tx.balances!.transferAllowDeath!(bob.address, DEV_BALANCE * 2n), charlie);
    expect(names(result)).toEqual(['balances.Withdraw', 'transactionPayment.TransactionFeePaid', 'system.ExtrinsicFailed']);
    expect(result.dispatchError?.isModule).toBe(true);
    const err = api.registry.findMetaError(result.dispatchError!.asModule);
    expect(`${err.section}.${err.name}`).toBe('balances.InsufficientBalance');
    expect(await free(charlie.address)).toBe(before - FIXED_FEE);
  });

  it('sudo dispatches as root for the sudo key, and only for it', async () => {
    const target = 777n * 10n ** 18n;
    const ok = await send(api.tx.sudo!.sudo!(api.tx.balances!.forceSetBalance!(charlie.address, target)), alice);
    expect(names(ok)).toContain('sudo.Sudid');
    expect(await free(charlie.address)).toBe(target);
    const denied = await send(api.tx.sudo!.sudo!(api.tx.balances!.forceSetBalance!(bob.address, 1n)), bob);
    expect(names(denied)).toContain('system.ExtrinsicFailed');
    expect(api.registry.findMetaError(denied.dispatchError!.asModule).name).toBe('RequireSudo');
  });
});

describe('multiAssetDelegation.joinOperators', () => {
  it('makes the caller an active operator with its bond reserved, once', async () => {
    const dave = keys.dave;
    const bond = 1_000n * 10n ** 18n;
    const before = await free(dave.address);
    const joined = await send(api.tx.multiAssetDelegation!.joinOperators!(bond), dave);
    expect(names(joined)).toContain('multiAssetDelegation.OperatorJoined');
    const op = (await api.query.multiAssetDelegation!.operators!(dave.address)) as unknown as { unwrap(): { stake: { toBigInt(): bigint }; status: { isActive: boolean } } };
    expect(op.unwrap().stake.toBigInt()).toBe(bond);
    expect(op.unwrap().status.isActive).toBe(true);
    expect(await free(dave.address)).toBe(before - bond - FIXED_FEE);
    const again = await send(api.tx.multiAssetDelegation!.joinOperators!(bond), dave);
    expect(api.registry.findMetaError(again.dispatchError!.asModule).name).toBe('AlreadyOperator');
  });

  it('refuses a bond under the minimum', async () => {
    const eve = keys.eve;
    const low = await send(api.tx.multiAssetDelegation!.joinOperators!(99n), eve);
    expect(api.registry.findMetaError(low.dispatchError!.asModule).name).toBe('BondTooLow');
  });
});
