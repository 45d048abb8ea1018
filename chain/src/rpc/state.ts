// state_*: metadata, runtime version, storage reads and storage subscriptions.
import { hexToU8a, u8aToHex } from '@polkadot/util';
import type { HexString } from '../blockchain/index.js';
import { blockAt } from './chain.js';
import { INVALID_PARAMS, RpcError } from './types.js';
import type { RpcContext, RpcModule } from './types.js';

export function accountNonce(ctx: RpcContext, address: string): number {
  const raw = ctx.chain.head.storage.get(ctx.runtime.key('system', 'account', address));
  if (!raw) return 0;
  const info = ctx.runtime.registry.createType('AccountInfo', hexToU8a(raw));
  return (info as unknown as { nonce: { toNumber(): number } }).nonce.toNumber();
}

/** The runtime APIs this node answers through state_call. */
function runtimeCall(ctx: RpcContext, method: string, data: HexString): HexString {
  const { registry, metadata } = ctx.runtime;
  switch (method) {
    case 'Metadata_metadata_versions':
      return u8aToHex(registry.createType('Vec<u32>', [metadata.version]).toU8a());
    case 'Metadata_metadata_at_version': {
      const version = registry.createType('u32', hexToU8a(data)).toNumber();
      if (version !== metadata.version) return '0x00'; // Option::None
      return `0x01${ctx.runtime.opaqueMetadataHex.slice(2)}` as HexString; // Option::Some
    }
    case 'Metadata_metadata':
      return ctx.runtime.opaqueMetadataHex;
    case 'Core_version':
      return u8aToHex(registry.createType('RuntimeVersion', ctx.runtime.version).toU8a());
    default:
      throw new RpcError(INVALID_PARAMS, `runtime API ${method} is not available on this development node`);
  }
}

export const state: RpcModule = {
  handlers: {
    state_getMetadata: (ctx) => ctx.runtime.metadataHex,
    state_getRuntimeVersion: (ctx) => ctx.runtime.version,
    state_getStorage: (ctx, [key, at]) => blockAt(ctx, at).storage.get(String(key) as HexString),
    state_getStorageAt: (ctx, [key, at]) => blockAt(ctx, at).storage.get(String(key) as HexString),
    state_getStorageHash: (ctx, [key, at]) => (blockAt(ctx, at).storage.get(String(key) as HexString) === null ? null : key),
    state_getStorageSize: (ctx, [key, at]) => {
      const v = blockAt(ctx, at).storage.get(String(key) as HexString);
      return v === null ? null : (v.length - 2) / 2;
    },
    state_queryStorageAt: (ctx, [keys, at]) => {
      const b = blockAt(ctx, at);
      return [{ block: b.hash, changes: (keys as HexString[]).map((k) => [k, b.storage.get(k)]) }];
    },
    state_getKeysPaged: (ctx, [prefix, count, startKey, at]) => {
      const keys = blockAt(ctx, at).storage.keysWithPrefix((prefix as HexString) ?? '0x');
      const from = startKey ? keys.findIndex((k) => k > (startKey as string)) : 0;
      return from < 0 ? [] : keys.slice(from, from + Number(count ?? 1000));
    },
    state_getKeys: (ctx, [prefix, at]) => blockAt(ctx, at).storage.keysWithPrefix((prefix as HexString) ?? '0x'),
    state_call: (ctx, [method, data]) => runtimeCall(ctx, String(method), (data as HexString) ?? '0x'),
  },
  subscriptions: {
    state_subscribeRuntimeVersion: {
      notification: 'state_runtimeVersion',
      unsubscribe: 'state_unsubscribeRuntimeVersion',
      start(ctx, _params, emit) {
        emit(ctx.runtime.version);
        return () => undefined; // the runtime never upgrades on this node
      },
    },
    state_subscribeStorage: {
      notification: 'state_storage',
      unsubscribe: 'state_unsubscribeStorage',
      start(ctx, [keys], emit) {
        const watched = (keys as HexString[] | undefined) ?? [];
        const head = ctx.chain.head;
        emit({ block: head.hash, changes: watched.map((k) => [k, head.storage.get(k)]) });
        return ctx.chain.onBlock((b) => {
          // O(watched keys) per subscriber: the block's layer answers "did this block change k" directly.
          const changes = watched.filter((k) => b.storage.changed(k)).map((k) => [k, b.storage.get(k)]);
          if (changes.length) emit({ block: b.hash, changes });
        });
      },
    },
  },
};
