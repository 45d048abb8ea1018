// `npm run blueprint:create -- [--rpc ws://127.0.0.1:9944]`: creates the FaaS blueprint on a
// chain, signed by the account in FAAS_SURI (a mnemonic or dev URI such as //Alice; never
// printed), and prints the new blueprint id.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { faasBlueprint } from '@faas/sdk/blueprint';
import { describeDispatchError } from '@faas/sdk/chain';

const args = process.argv.slice(2);
const rpc = args[args.indexOf('--rpc') + 1] && args.includes('--rpc') ? args[args.indexOf('--rpc') + 1]! : (process.env.FAAS_RPC_URL ?? 'ws://127.0.0.1:9944');
const suri = process.env.FAAS_SURI;
if (!suri) {
  process.stderr.write('set FAAS_SURI to the creator account (mnemonic or dev URI such as //Alice)\n');
  process.exit(2);
}
await cryptoWaitReady();
const api = await ApiPromise.create({ provider: new WsProvider(rpc), noInitWarn: true });
const signer = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri(suri);
const id = await new Promise<string>((resolve, reject) => {
  api.tx.services!.createBlueprint!(faasBlueprint())
    .signAndSend(signer, (r) => {
      if (!r.status.isInBlock && !r.status.isFinalized) return;
      if (r.dispatchError) return reject(new Error(`createBlueprint failed: ${describeDispatchError(api.registry, r.dispatchError)}`));
      const created = r.events.find(({ event }) => event.section === 'services' && event.method === 'BlueprintCreated');
      if (created) resolve(created.event.data[1]!.toString());
    })
    .catch(reject);
});
process.stdout.write(`blueprint ${id} created on ${rpc} by ${signer.address}\n`);
await api.disconnect();
