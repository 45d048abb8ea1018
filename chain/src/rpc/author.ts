// author_*: submitting transactions, and watching them into a block.
import { InvalidTransaction } from '../blockchain/extrinsic.js';
import type { VerifiedExtrinsic } from '../blockchain/extrinsic.js';
import type { HexString } from '../blockchain/index.js';
import type { TxPool } from '../blockchain/txpool.js';
import { RpcError } from './types.js';
import type { RpcModule } from './types.js';

function asRpcError(err: unknown): RpcError {
  if (err instanceof InvalidTransaction) return new RpcError(1010, 'Invalid Transaction', err.reason);
  return new RpcError(-32603, (err as Error).message);
}

export function author(pool: TxPool): RpcModule {
  return {
    handlers: {
      author_submitExtrinsic: (_ctx, [hex]) => {
        // Answer with the hash once the pool accepts it, as a node does; sealing follows.
        let xt: VerifiedExtrinsic;
        try {
          xt = pool.validateForPool(String(hex) as HexString);
        } catch (err) {
          throw asRpcError(err);
        }
        void pool.submit(xt).catch(() => undefined); // became invalid meanwhile: dropped
        return xt.hash;
      },
      author_pendingExtrinsics: () => [],
    },
    subscriptions: {
      author_submitAndWatchExtrinsic: {
        notification: 'author_extrinsicUpdate',
        unsubscribe: 'author_unwatchExtrinsic',
        start(_ctx, [hex], emit) {
          // Validation errors must answer the request itself, so validate synchronously.
          let xt: VerifiedExtrinsic;
          try {
            xt = pool.validateForPool(String(hex) as HexString);
          } catch (err) {
            throw asRpcError(err);
          }
          void pool.submit(xt, emit).catch((err: unknown) => emit({ invalid: null, error: (err as Error).message }));
          return () => undefined;
        },
      },
    },
  };
}

/** dev_*: controls for tests and developers (chopsticks names them the same way). */
export function dev(pool: TxPool): RpcModule {
  return {
    handlers: {
      dev_newBlock: () => pool.sealEmpty().hash,
    },
  };
}
