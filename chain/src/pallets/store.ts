// Typed storage access for pallet code: keys and values through the runtime's metadata.
import type { Codec } from '@polkadot/types/types';
import type { DispatchContext } from './types.js';

type Ctx = Pick<DispatchContext, 'runtime' | 'storage'>;

/** The decoded value of `pallet.item(...keys)`, or null when absent. */
export function read<T = Codec>(ctx: Ctx, pallet: string, item: string, ...keys: unknown[]): (T & Codec) | null {
  const raw = ctx.storage.get(ctx.runtime.key(pallet, item, ...keys));
  return raw === null ? null : (ctx.runtime.decodeValue(pallet, item, raw) as unknown as T & Codec);
}

/** Writes (or, with null, removes) `pallet.item(...keys)`. */
export function write(ctx: Ctx, pallet: string, item: string, keys: unknown[], value: unknown): void {
  ctx.storage.set(ctx.runtime.key(pallet, item, ...keys), value === null ? null : ctx.runtime.encodeValue(pallet, item, value));
}

/** Reads a u64 counter (0 when unset), writes it + 1, returns the value read. */
export function nextId(ctx: Ctx, pallet: string, item: string): bigint {
  const id = BigInt(read(ctx, pallet, item)?.toString() ?? '0');
  write(ctx, pallet, item, [], id + 1n);
  return id;
}
