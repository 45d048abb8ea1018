// Genesis state of the local node: the well-known development accounts funded, //Alice as
// sudo. Every key and value is encoded from the runtime metadata.
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { Runtime } from '../runtime.js';
import { StorageLayer } from './storage-layer.js';

export const DEV_ACCOUNTS = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'] as const;
/** 1,000,000 TNT (18 decimals) for each development account. */
export const DEV_BALANCE = 10n ** 24n;
/** The master blueprint service manager (revision 0) the development chain starts with. */
export const DEV_MBSM_ADDRESS = '0x0000000000000000000000000000000000000fa5';

export async function devAddresses(ss58Prefix: number): Promise<Record<(typeof DEV_ACCOUNTS)[number], string>> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: ss58Prefix });
  return Object.fromEntries(DEV_ACCOUNTS.map((n) => [n, keyring.addFromUri(`//${n}`).address])) as Record<(typeof DEV_ACCOUNTS)[number], string>;
}

export async function genesisStorage(runtime: Runtime): Promise<StorageLayer> {
  const storage = new StorageLayer();
  const accounts = await devAddresses(runtime.ss58Prefix);
  for (const address of Object.values(accounts)) {
    storage.set(
      runtime.key('system', 'account', address),
      runtime.encodeValue('system', 'account', { nonce: 0, consumers: 0, providers: 1, sufficients: 0, data: { free: DEV_BALANCE, reserved: 0, frozen: 0, flags: 0 } }),
    );
  }
  storage.set(runtime.key('balances', 'totalIssuance'), runtime.encodeValue('balances', 'totalIssuance', DEV_BALANCE * BigInt(DEV_ACCOUNTS.length)));
  storage.set(runtime.key('sudo', 'key'), runtime.encodeValue('sudo', 'key', accounts.Alice));
  storage.set(runtime.key('system', 'number'), runtime.encodeValue('system', 'number', 0));
  // The live chain has no master blueprint service manager at genesis (root adds one); with no
  // EVM here its address only pins blueprints to revision 0, so one is there from the start.
  storage.set(
    runtime.key('services', 'masterBlueprintServiceManagerRevisions'),
    runtime.encodeValue('services', 'masterBlueprintServiceManagerRevisions', [DEV_MBSM_ADDRESS]),
  );
  return storage;
}
