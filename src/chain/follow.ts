// Following the chain's events: every finalized (or, by choice, best) block's events, in block
// order, each block once — from a given block (catching up on what was missed) or from the head.
import type { ApiPromise } from '@polkadot/api';
import type { Hash } from '@polkadot/types/interfaces';
import type { Codec } from '@polkadot/types/types';

export interface ChainEvent {
  section: string;
  method: string;
  data: Codec[];
}

export interface FollowOptions {
  /** Which head to follow: finalized (default; what is final cannot be reverted) or best
   *  (sooner, but a block may still be replaced by another at the same height). */
  head?: 'finalized' | 'best';
  /** First block to read; a function gets the first finalized head. Default: that head. */
  fromBlock?: number | ((head: number) => number);
  /** Called after all of a block's events were handed over. */
  onBlockScanned?: (n: number) => void;
  /** A failed block read; the same blocks are read again with the next head. */
  onError?: (err: Error) => void;
}

/**
 * A block's events. Read as raw storage and decoded with the API's registry: `api.at(hash)`
 * rebuilds the whole decorated API for every new block (~20 ms each here), which dominated a
 * busy follower. Should the raw decode fail (a block from before a runtime upgrade whose
 * events the current metadata cannot read), the block's own metadata is used.
 */
async function eventsAt(api: ApiPromise, hash: Hash): Promise<Array<{ event: ChainEvent }>> {
  const raw = (await api.rpc.state.getStorage(api.query.system!.events!.key(), hash)) as unknown as { toU8a(bare: boolean): Uint8Array } | null;
  try {
    if (raw) return api.registry.createType('Vec<EventRecord>', raw.toU8a(true)) as unknown as Array<{ event: ChainEvent }>;
  } catch {
    /* fall through to the block's own metadata */
  }
  return (await (await api.at(hash)).query.system!.events!()) as unknown as Array<{ event: ChainEvent }>;
}

/** Calls `onEvent` for each event of each finalized block; resolves with a stop function. */
export async function followChainEvents(
  api: ApiPromise,
  opts: FollowOptions,
  onEvent: (event: ChainEvent, block: { number: number; hash: string }) => void,
): Promise<() => void> {
  let next: number | null = typeof opts.fromBlock === 'number' ? opts.fromBlock : null;
  let stopped = false;
  const scan = async (head: number) => {
    if (next === null) next = typeof opts.fromBlock === 'function' ? opts.fromBlock(head) : head;
    for (; next <= head && !stopped; next++) {
      const hash = await api.rpc.chain.getBlockHash(next);
      const records = await eventsAt(api, hash);
      for (const { event } of records) if (!stopped) onEvent(event, { number: next, hash: hash.toHex() });
      // Stopped meanwhile: this block's events were not all handed over, so it is not scanned
      // (a follower resuming after the last scanned block must read it again).
      if (stopped) return;
      opts.onBlockScanned?.(next);
    }
  };
  // One scan at a time, in head order, so no block is missed or read twice.
  let tail = Promise.resolve();
  const onHead = (header: { number: { toNumber(): number } }) => {
    tail = tail.then(() => scan(header.number.toNumber())).catch((err: Error) => opts.onError?.(err));
  };
  const unsub = await (opts.head === 'best' ? api.rpc.chain.subscribeNewHeads(onHead) : api.rpc.chain.subscribeFinalizedHeads(onHead));
  return () => {
    stopped = true;
    unsub();
  };
}
