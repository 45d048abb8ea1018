// A block's extrinsic hashes and events, read once per block and shared by everyone on the same
// API (the transaction sender looking for its own events, the followers). Events are read as
// raw storage and decoded with the API's registry: `api.at(hash)` — what @polkadot/api's
// signAndSend does for every status — rebuilds the decorated API per block (~20 ms each here).
import type { ApiPromise } from '@polkadot/api';
import type { Hash } from '@polkadot/types/interfaces';
import type { Codec } from '@polkadot/types/types';
import { hexToU8a } from '@polkadot/util';
import { blake2AsHex } from '@polkadot/util-crypto';

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

/** A small per-API cache of promises: a failed read is forgotten (tried again next time). */
class PerApi<T> {
  private readonly maps = new WeakMap<ApiPromise, Map<string, Promise<T>>>();
  get(api: ApiPromise, key: string, read: () => Promise<T>): Promise<T> {
    let cache = this.maps.get(api);
    if (!cache) {
      const fresh = new Map<string, Promise<T>>();
      this.maps.set(api, (cache = fresh));
      // A node that comes back may be another chain (a restarted dev node): start afresh.
      api.on('disconnected', () => fresh.clear());
    }
    let hit = cache.get(key);
    if (!hit) {
      hit = read();
      cache.set(key, hit);
      hit.catch(() => cache.delete(key));
      if (cache.size > CACHE_BLOCKS) cache.delete(cache.keys().next().value!);
    }
    return hit;
  }
}

const events = new PerApi<EventRecord[]>();
const bodies = new PerApi<{ number: number; extrinsics: string[] }>();
const hashes = new PerApi<string>();

/** @polkadot/api's `.raw` form of an RPC: the node's JSON, not decoded — and, for a call at a
 *  block hash, without first fetching that block's runtime version to pick a registry. */
type Raw<A extends unknown[], R> = { raw(...args: A): Promise<R> };

async function readEvents(api: ApiPromise, hash: Hash | string): Promise<EventRecord[]> {
  const at = typeof hash === 'string' ? hash : hash.toHex();
  const raw = await (api.rpc.state.getStorage as unknown as Raw<[string, string], string | null>).raw(api.query.system!.events!.key(), at);
  let records: RawRecord[];
  try {
    records = raw ? (api.registry.createType('Vec<EventRecord>', raw) as unknown as RawRecord[]) : [];
  } catch {
    // A block from before a runtime upgrade whose events the current metadata cannot read.
    records = (await (await api.at(hash)).query.system!.events!()) as unknown as RawRecord[];
  }
  return records.map((r) => ({ event: r.event, extrinsic: r.phase.isApplyExtrinsic ? r.phase.asApplyExtrinsic.toNumber() : null }));
}

/** The events of the block with this hash (cached for the last blocks asked about). */
export function blockEvents(api: ApiPromise, hash: Hash | string): Promise<EventRecord[]> {
  return events.get(api, typeof hash === 'string' ? hash : hash.toHex(), () => readEvents(api, hash));
}

/** The block's number and its extrinsics' hashes, in order. */
export function blockBody(api: ApiPromise, hash: string): Promise<{ number: number; extrinsics: string[] }> {
  return bodies.get(api, hash, async () => {
    // The extrinsics' hashes straight from their bytes: decoding each is not needed for that.
    const { block } = await (api.rpc.chain.getBlock as unknown as Raw<[string], { block: { header: { number: string }; extrinsics: string[] } }>).raw(hash);
    return { number: Number(block.header.number), extrinsics: block.extrinsics.map((x) => blake2AsHex(hexToU8a(x), 256)) };
  });
}

/** The hash of block `n` of the chain this API follows (a finalized number: it cannot change). */
export function finalizedBlockHash(api: ApiPromise, n: number): Promise<string> {
  return hashes.get(api, String(n), () => (api.rpc.chain.getBlockHash as unknown as Raw<[number], string>).raw(n));
}
