// A block's extrinsic hashes and events, read once per block and shared by everyone on the same
// API (the transaction sender looking for its own events, the followers). Events are read as
// raw storage and decoded with the API's registry: `api.at(hash)` — what @polkadot/api's
// signAndSend does for every status — rebuilds the decorated API per block (~20 ms each here).
import type { ApiPromise } from '@polkadot/api';
import type { Hash } from '@polkadot/types/interfaces';
import type { Codec } from '@polkadot/types/types';

export interface ChainEvent {
  section: string;
  method: string;
  data: Codec[];
}

export interface EventRecord {
  event: ChainEvent;
  /** The extrinsic's index in the block for ApplyExtrinsic events; null for others. */
  extrinsic: number | null;
}

interface RawRecord {
  event: ChainEvent;
  phase: { isApplyExtrinsic: boolean; asApplyExtrinsic: { toNumber(): number } };
}

const CACHE_BLOCKS = 256;
const caches = new WeakMap<ApiPromise, Map<string, Promise<EventRecord[]>>>();

async function readEvents(api: ApiPromise, hash: Hash | string): Promise<EventRecord[]> {
  const raw = (await api.rpc.state.getStorage(api.query.system!.events!.key(), hash)) as unknown as { toU8a(bare: boolean): Uint8Array } | null;
  let records: RawRecord[];
  try {
    records = raw ? (api.registry.createType('Vec<EventRecord>', raw.toU8a(true)) as unknown as RawRecord[]) : [];
  } catch {
    // A block from before a runtime upgrade whose events the current metadata cannot read.
    records = (await (await api.at(hash)).query.system!.events!()) as unknown as RawRecord[];
  }
  return records.map((r) => ({ event: r.event, extrinsic: r.phase.isApplyExtrinsic ? r.phase.asApplyExtrinsic.toNumber() : null }));
}

/** The events of the block with this hash (cached for the last blocks asked about). */
export function blockEvents(api: ApiPromise, hash: Hash | string): Promise<EventRecord[]> {
  const key = typeof hash === 'string' ? hash : hash.toHex();
  let cache = caches.get(api);
  if (!cache) caches.set(api, (cache = new Map()));
  let hit = cache.get(key);
  if (!hit) {
    hit = readEvents(api, hash);
    cache.set(key, hit);
    hit.catch(() => cache.delete(key)); // a failed read is tried again next time
    if (cache.size > CACHE_BLOCKS) cache.delete(cache.keys().next().value!);
  }
  return hit;
}

/** Hashes of the block's extrinsics, in order. */
export async function blockExtrinsicHashes(api: ApiPromise, hash: Hash | string): Promise<string[]> {
  const block = await api.rpc.chain.getBlock(hash);
  return block.block.extrinsics.map((x) => x.hash.toHex());
}
