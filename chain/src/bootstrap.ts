// Bootstrap of a FaaS service on a (local) chain: the blueprint, an operator that joins and
// registers with its signing key, and a service requested and approved. Used by `npm start`
// on the embedded chain and by the tests.
import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { faasBlueprint } from '../../blueprint/index.js';

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

const eventField = (r: ISubmittableResult, method: string, index: number): string =>
  r.events.find(({ event }) => event.section === 'services' && event.method === method)!.event.data[index]!.toString();

/** Blueprint (by owner) → operator joins and registers → service requested by owner and approved. */
export async function bootstrapFaasService(
  api: ApiPromise,
  who: { owner: KeyringPair; operator: KeyringPair; permitted: string[]; key?: string; joined?: boolean; rpcAddress?: string },
): Promise<{ blueprintId: number; serviceId: number }> {
  const blueprintId = Number(eventField(await send(api.tx.services!.createBlueprint!(faasBlueprint()), who.owner), 'BlueprintCreated', 1));
  if (!who.joined) await send(api.tx.multiAssetDelegation!.joinOperators!(10n ** 18n), who.operator);
  const preferences = { key: who.key ?? `0x04${'22'.repeat(64)}`, rpcAddress: who.rpcAddress ?? 'http://127.0.0.1:8080' };
  await send(api.tx.services!.register!(blueprintId, preferences, [], 0), who.operator);
  const native = { Custom: 0 };
  const requirements = [{ asset: native, minExposurePercent: 10, maxExposurePercent: 100 }];
  const request = api.tx.services!.request!(null, blueprintId, who.permitted, [who.operator.address], [], requirements, 1000, native, 0, { Fixed: { minOperators: 1 } });
  const requestId = eventField(await send(request, who.owner), 'ServiceRequested', 1);
  const approved = await send(api.tx.services!.approve!(requestId, [{ asset: native, exposurePercent: 50 }]), who.operator);
  return { blueprintId, serviceId: Number(eventField(approved, 'ServiceInitiated', 2)) };
}
