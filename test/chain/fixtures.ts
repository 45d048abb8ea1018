// Chain test fixtures: a local node with an API and the dev keys, sending as a dev account,
// and a FaaS service made from scratch.
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { faasBlueprint } from '../../blueprint/index.js';
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

/** Signs and sends; resolves with the finalized result, whether the call succeeded or failed. */
export function sendRaw(tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair): Promise<ISubmittableResult> {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (r) => {
      if (r.status.isFinalized) resolve(r);
    }).catch(reject);
  });
}

/** Signs and sends; rejects when the call failed. */
export async function send(tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair): Promise<ISubmittableResult> {
  const r = await sendRaw(tx, signer);
  if (r.dispatchError) throw new Error(`${tx.method.section}.${tx.method.method} failed: ${r.dispatchError.toString()}`);
  return r;
}

/** Blueprint (by owner) → operator joins and registers → service requested by owner and approved. */
export async function setupFaasService(
  api: ApiPromise,
  who: { owner: KeyringPair; operator: KeyringPair; permitted: string[]; key?: string; joined?: boolean },
): Promise<{ blueprintId: number; serviceId: number }> {
  const created = await send(api.tx.services!.createBlueprint!(faasBlueprint()), who.owner);
  const blueprintId = Number(created.events.find(({ event }) => event.method === 'BlueprintCreated')!.event.data[1]!.toString());
  if (!who.joined) await send(api.tx.multiAssetDelegation!.joinOperators!(10n ** 18n), who.operator);
  await send(api.tx.services!.register!(blueprintId, { key: who.key ?? `0x04${'22'.repeat(64)}`, rpcAddress: 'http://127.0.0.1:8080' }, [], 0), who.operator);
  const native = { Custom: 0 };
  const requested = await send(
    api.tx.services!.request!(null, blueprintId, who.permitted, [who.operator.address], [], [{ asset: native, minExposurePercent: 10, maxExposurePercent: 100 }], 1000, native, 0, { Fixed: { minOperators: 1 } }),
    who.owner,
  );
  const requestId = requested.events.find(({ event }) => event.method === 'ServiceRequested')!.event.data[1]!.toString();
  const approved = await send(api.tx.services!.approve!(requestId, [{ asset: native, exposurePercent: 50 }]), who.operator);
  const serviceId = Number(approved.events.find(({ event }) => event.method === 'ServiceInitiated')!.event.data[2]!.toString());
  return { blueprintId, serviceId };
}
