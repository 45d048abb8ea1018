// Chain test fixtures: sending as a dev account, and a FaaS service made from scratch.
import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { faasBlueprint } from '../../blueprint/index.js';

export function send(tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair): Promise<ISubmittableResult> {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (r) => {
      if (!r.status.isFinalized) return;
      if (r.dispatchError) reject(new Error(`${tx.method.section}.${tx.method.method} failed: ${r.dispatchError.toString()}`));
      else resolve(r);
    }).catch(reject);
  });
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
