// Becoming an operator of the FaaS blueprint, and reading back where one stands: plain
// reads and calls of `multiAssetDelegation` and `services`, used by the operator CLI.
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import { u8aToString } from '@polkadot/util';
import type { TxSender } from '@faas/sdk/chain';

export interface OperatorChainStatus {
  address: string;
  free: bigint;
  reserved: bigint;
  /** Null until the account joined the operators (`multiAssetDelegation.joinOperators`). */
  operator: { stake: bigint; status: string } | null;
  /** Blueprints it registered for, with the key and API address it registered. */
  registrations: Array<{ blueprintId: bigint; key: string; rpcAddress: string }>;
  /** Services it operates. */
  services: bigint[];
}

/** Reads an Option storage item; null when nothing is stored (Tangle's metadata gives such items
 *  a fallback that decodes as Some, so the stored size decides). */
async function stored<T>(item: { (...k: unknown[]): Promise<Codec>; size(...k: unknown[]): Promise<Codec> }, ...keys: unknown[]): Promise<T | null> {
  if (Number((await item.size(...keys)).toString()) === 0) return null;
  return ((await item(...keys)) as unknown as { unwrap(): T }).unwrap();
}

type Item = Parameters<typeof stored>[0];

export async function readOperatorStatus(api: ApiPromise, address: string): Promise<OperatorChainStatus> {
  const account = (await api.query.system!.account!(address)) as unknown as { data: { free: Codec; reserved: Codec } };
  const op = await stored<{ stake: Codec; status: Codec }>(api.query.multiAssetDelegation!.operators as unknown as Item, address);
  const profile = await stored<{ services: Codec[] & Iterable<Codec>; blueprints: Iterable<Codec> }>(api.query.services!.operatorsProfile as unknown as Item, address);
  const blueprints = profile ? [...profile.blueprints].map((b) => BigInt(b.toString())) : [];
  const registrations = [];
  for (const blueprintId of blueprints) {
    const prefs = await stored<{ key: Codec; rpcAddress: Codec }>(api.query.services!.operators as unknown as Item, blueprintId, address);
    if (prefs) registrations.push({ blueprintId, key: prefs.key.toHex(), rpcAddress: u8aToString(prefs.rpcAddress.toU8a(true)) });
  }
  return {
    address,
    free: BigInt(account.data.free.toString()),
    reserved: BigInt(account.data.reserved.toString()),
    operator: op ? { stake: BigInt(op.stake.toString()), status: op.status.toString() } : null,
    registrations,
    services: profile ? [...profile.services].map((s) => BigInt(s.toString())) : [],
  };
}

export interface RegisterOptions {
  blueprintId: bigint;
  /** The operator's 65-byte uncompressed ECDSA key, which callers verify results against. */
  key: string;
  /** The operator API's base URL (full outputs by hash, the FaaS API). */
  rpcAddress: string;
  /** Bond for joining the operators; defaults to the runtime's minimum. */
  bond?: bigint;
}

/** Joins the operators (if not yet) and registers for the blueprint (if not yet). Says what it did. */
export async function registerOperator(api: ApiPromise, sender: TxSender, o: RegisterOptions): Promise<string[]> {
  const done: string[] = [];
  const before = await readOperatorStatus(api, sender.pair.address);
  if (!before.operator) {
    const min = BigInt(api.consts.multiAssetDelegation!.minOperatorBondAmount!.toString());
    const bond = o.bond ?? min;
    await sender.send(api.tx.multiAssetDelegation!.joinOperators!(bond));
    done.push(`joined the operators with a bond of ${bond}`);
  }
  const existing = before.registrations.find((r) => r.blueprintId === o.blueprintId);
  if (existing) {
    done.push(`already registered for blueprint ${o.blueprintId} (API ${existing.rpcAddress})`);
    return done;
  }
  await sender.send(api.tx.services!.register!(o.blueprintId, { key: o.key, rpcAddress: o.rpcAddress }, [], 0));
  done.push(`registered for blueprint ${o.blueprintId} with API ${o.rpcAddress}`);
  return done;
}
