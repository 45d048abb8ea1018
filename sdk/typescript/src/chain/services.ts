// Reads of the services pallet that both the operator and TangleFaaSClient need: a service's
// record (its blueprint and operators come from here, never from a caller's config), an
// operator's registration for a blueprint, and a call's stored arguments.
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import { u8aToString } from '@polkadot/util';

export interface ServiceRecord {
  serviceId: bigint;
  blueprintId: bigint;
  owner: string;
  /** The operators that approved the service (its security commitments), in order. */
  operators: string[];
  permittedCallers: string[];
}

export interface OperatorRegistration {
  /** The 65-byte uncompressed ECDSA key the operator registered (0x04 ‖ x ‖ y). */
  key: string;
  /** Its API address, where full outputs are served. */
  rpcAddress: string;
}

/** Tangle's metadata gives Optional items a fallback that decodes as Some(...) when nothing is
 *  stored, so presence is read from the stored size. */
async function optional<T>(item: { (...k: unknown[]): Promise<Codec>; size(...k: unknown[]): Promise<Codec> }, ...keys: unknown[]): Promise<T | null> {
  if (Number((await item.size(...keys)).toString()) === 0) return null;
  return ((await item(...keys)) as unknown as { unwrap(): T }).unwrap();
}

type Item = Parameters<typeof optional>[0];

export async function readService(api: ApiPromise, serviceId: bigint): Promise<ServiceRecord | null> {
  const s = await optional<{ blueprint: Codec; owner: Codec; operatorSecurityCommitments: Iterable<[Codec, Codec]>; permittedCallers: Iterable<Codec> }>(
    api.query.services!.instances as unknown as Item,
    serviceId,
  );
  if (!s) return null;
  return {
    serviceId,
    blueprintId: BigInt(s.blueprint.toString()),
    owner: s.owner.toString(),
    operators: [...s.operatorSecurityCommitments].map(([op]) => op.toString()),
    permittedCallers: [...s.permittedCallers].map((c) => c.toString()),
  };
}

export async function readRegistration(api: ApiPromise, blueprintId: bigint, operator: string): Promise<OperatorRegistration | null> {
  const p = await optional<{ key: Codec; rpcAddress: Codec }>(api.query.services!.operators as unknown as Item, blueprintId, operator);
  return p ? { key: p.key.toHex(), rpcAddress: u8aToString(p.rpcAddress.toU8a(true)) } : null;
}

/** A call's stored job index and argument Fields (`Services.JobCalls`), or null. */
export async function readJobCall(api: ApiPromise, serviceId: bigint, callId: bigint): Promise<{ job: number; args: Codec[] } | null> {
  const c = await optional<{ job: Codec; args: Iterable<Codec> }>(api.query.services!.jobCalls as unknown as Item, serviceId, callId);
  return c ? { job: Number(c.job.toString()), args: [...c.args] } : null;
}

/** `${serviceId}/${callId}`: how calls are named in sets. */
export const callKey = (serviceId: bigint, callId: bigint): string => `${serviceId}/${callId}`;
