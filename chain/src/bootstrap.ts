// Bootstrap of a FaaS service on a (local) chain: the blueprint, an operator that joins and
// registers with its signing key, and a service requested and approved. Used by `npm start`
// on the embedded chain and by the tests.
import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ISubmittableResult } from '@polkadot/types/types';
import { faasBlueprint } from '@faas/sdk/blueprint';
import { describeDispatchError } from '@faas/sdk/chain';

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
  // In the runtime's words (`services.AlreadyRegistered: <docs>`), not the raw module index.
  if (r.dispatchError) throw new Error(`${tx.method.section}.${tx.method.method} failed: ${describeDispatchError(tx.registry, r.dispatchError)}`);
  return r;
}

const eventField = (r: ISubmittableResult, method: string, index: number): string =>
  r.events.find(({ event }) => event.section === 'services' && event.method === method)!.event.data[index]!.toString();

/** One operator of a service: its account, the key and API address it registers. */
export interface ServiceOperator {
  pair: KeyringPair;
  /** The 65-byte ECDSA key results are verified against (default: a placeholder). */
  key?: string;
  rpcAddress?: string;
  /** Already joined the operators (multiAssetDelegation): skip joining. */
  joined?: boolean;
  /** Already registered for this blueprint: skip registering. */
  registered?: boolean;
}

/** Each operator joins (unless joined) and registers for the blueprint (unless registered). */
export async function registerOperators(api: ApiPromise, blueprintId: number, operators: ServiceOperator[]): Promise<void> {
  for (const op of operators) {
    if (!op.joined) await send(api.tx.multiAssetDelegation!.joinOperators!(10n ** 18n), op.pair);
    if (op.registered) continue;
    const preferences = { key: op.key ?? `0x04${'22'.repeat(64)}`, rpcAddress: op.rpcAddress ?? 'http://127.0.0.1:8080' };
    await send(api.tx.services!.register!(blueprintId, preferences, [], 0), op.pair);
  }
}

/** A service of the blueprint requested by `owner` with these operators, approved by each of them. */
export async function requestService(api: ApiPromise, blueprintId: number, owner: KeyringPair, operators: KeyringPair[], permitted: string[]): Promise<number> {
  const native = { Custom: 0 };
  const requirements = [{ asset: native, minExposurePercent: 10, maxExposurePercent: 100 }];
  const request = api.tx.services!.request!(null, blueprintId, permitted, operators.map((o) => o.address), [], requirements, 1000, native, 0, { Fixed: { minOperators: operators.length } });
  const requestId = eventField(await send(request, owner), 'ServiceRequested', 1);
  let serviceId = -1;
  for (const op of operators) {
    const approved = await send(api.tx.services!.approve!(requestId, [{ asset: native, exposurePercent: 50 }]), op);
    if (approved.events.some(({ event }) => event.method === 'ServiceInitiated')) serviceId = Number(eventField(approved, 'ServiceInitiated', 2));
  }
  return serviceId;
}

/** Blueprint (by owner) → operators join and register → service requested by owner and approved by each. */
export async function bootstrapFaasService(
  api: ApiPromise,
  who: { owner: KeyringPair; operator?: KeyringPair; permitted: string[]; key?: string; joined?: boolean; rpcAddress?: string; operators?: ServiceOperator[] },
): Promise<{ blueprintId: number; serviceId: number }> {
  const blueprintId = Number(eventField(await send(api.tx.services!.createBlueprint!(faasBlueprint()), who.owner), 'BlueprintCreated', 1));
  const operators = who.operators ?? [{ pair: who.operator!, key: who.key, rpcAddress: who.rpcAddress, joined: who.joined }];
  await registerOperators(api, blueprintId, operators);
  const serviceId = await requestService(api, blueprintId, who.owner, operators.map((o) => o.pair), who.permitted);
  return { blueprintId, serviceId };
}
