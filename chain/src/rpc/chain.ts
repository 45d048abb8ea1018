// chain_*: blocks, headers and head subscriptions.
import type { Block, HexString } from '../blockchain/index.js';
import { INVALID_PARAMS, RpcError } from './types.js';
import type { RpcContext, RpcModule, Subscription } from './types.js';

export function blockAt(ctx: RpcContext, at: unknown): Block {
  const block = at === undefined || at === null ? ctx.chain.head : ctx.chain.block(at as HexString);
  if (!block) throw new RpcError(INVALID_PARAMS, `unknown block ${String(at)}`);
  return block;
}

const heads = (notification: string, unsubscribe: string): Subscription => ({
  notification,
  unsubscribe,
  start(ctx, _params, emit) {
    emit(ctx.chain.head.headerJson());
    return ctx.chain.onBlock((b) => emit(b.headerJson()));
  },
});

export const chain: RpcModule = {
  handlers: {
    chain_getBlockHash: (ctx, [n]) => {
      if (n === undefined || n === null) return ctx.chain.head.hash;
      const number = typeof n === 'string' ? parseInt(n, n.startsWith('0x') ? 16 : 10) : Number(n);
      return ctx.chain.block(number)?.hash ?? null;
    },
    chain_getHeader: (ctx, [at]) => blockAt(ctx, at).headerJson(),
    chain_getBlock: (ctx, [at]) => {
      const b = blockAt(ctx, at);
      return { block: { header: b.headerJson(), extrinsics: b.extrinsics }, justifications: null };
    },
    chain_getFinalizedHead: (ctx) => ctx.chain.finalized.hash,
  },
  subscriptions: {
    chain_subscribeNewHeads: heads('chain_newHead', 'chain_unsubscribeNewHeads'),
    // The names older clients (and @polkadot/api's aliases) use.
    chain_subscribeNewHead: heads('chain_newHead', 'chain_unsubscribeNewHead'),
    chain_subscribeFinalisedHeads: heads('chain_finalizedHead', 'chain_unsubscribeFinalisedHeads'),
    chain_subscribeAllHeads: heads('chain_allHead', 'chain_unsubscribeAllHeads'),
    chain_subscribeFinalizedHeads: heads('chain_finalizedHead', 'chain_unsubscribeFinalizedHeads'),
  },
};
