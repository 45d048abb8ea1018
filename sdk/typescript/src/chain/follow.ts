// Following the chain's events: every finalized (or, by choice, best) block's events, in block
// order, each block once — from a given block (catching up on what was missed) or from the head.
import type { ApiPromise } from '@polkadot/api';
import { blockEvents, finalizedBlockHash } from './blocks.js';
import type { ChainEvent } from './blocks.js';

export type { ChainEvent } from './blocks.js';

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

/** Calls `onEvent` for each event of each finalized block; resolves with a stop function. */
export async function followChainEvents(
  api: ApiPromise,
  opts: FollowOptions,
  onEvent: (event: ChainEvent, block: { number: number; hash: string }) => void,
): Promise<() => void> {
  let next: number | null = typeof opts.fromBlock === 'number' ? opts.fromBlock : null;
  let stopped = false;
  // Finalized block numbers name one block for good, so their hashes are shared (cached);
  // a best block at a height may still be replaced, so best-following reads them afresh.
  const hashAt = async (n: number) => (opts.head === 'best' ? (await api.rpc.chain.getBlockHash(n)).toHex() : finalizedBlockHash(api, n));
  const scan = async (head: number) => {
    if (next === null) next = typeof opts.fromBlock === 'function' ? opts.fromBlock(head) : head;
    for (; next <= head && !stopped; next++) {
      const hash = await hashAt(next);
      const records = await blockEvents(api, hash);
      for (const { event } of records) if (!stopped) onEvent(event, { number: next, hash });
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

/** Hands over the events of blocks `from`..`to` (finalized), then stops: a bounded look back. */
export async function scanBlocks(api: ApiPromise, range: { from: number; to: number; head?: 'finalized' | 'best' }, onEvent: (event: ChainEvent, block: { number: number; hash: string }) => void): Promise<void> {
  if (range.from > range.to) return;
  await new Promise<void>((resolve, reject) => {
    let stop: (() => void) | null = null;
    let done = false;
    followChainEvents(
      api,
      {
        fromBlock: Math.max(0, range.from),
        head: range.head,
        onError: reject,
        onBlockScanned: (n) => {
          if (n < range.to) return;
          done = true;
          stop?.();
          resolve();
        },
      },
      onEvent,
    ).then((s) => (done ? s() : (stop = s)), reject);
  });
}
