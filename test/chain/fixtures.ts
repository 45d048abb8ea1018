// Chain test fixtures: a local node with an API and the dev keys, sending as a dev account,
// and a FaaS service made from scratch.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startNode } from '../../chain/src/index.js';
import type { LocalNode } from '../../chain/src/index.js';

export type DevKeys = Record<'alice' | 'bob' | 'charlie' | 'dave' | 'eve', KeyringPair>;

/** A fresh local node on a free port, an API connected to it, and the dev accounts' keys. */
export async function startChain(): Promise<{ node: LocalNode; api: ApiPromise; keys: DevKeys; stop(): Promise<void> }> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const keys = Object.fromEntries(['Alice', 'Bob', 'Charlie', 'Dave', 'Eve'].map((n) => [n.toLowerCase(), keyring.addFromUri(`//${n}`)])) as DevKeys;
  const node = await startNode({ port: 0 });
  const api = await ApiPromise.create({ provider: new WsProvider(node.url), noInitWarn: true });
  return {
    node,
    api,
    keys,
    stop: async () => {
      await api.disconnect();
      await node.stop();
    },
  };
}

export { send, sendRaw, bootstrapFaasService as setupFaasService, registerOperators, requestService } from '../../chain/src/bootstrap.js';
