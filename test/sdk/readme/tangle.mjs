// README: Tangle/Polkadot Integration (TypeScript), against the local Tangle services node with an
// operator serving the FaaS blueprint's service.
import { Keyring } from '@polkadot/keyring'; // README: where `keyringPair` comes from (a dependency @faas/sdk brings)
import { cryptoWaitReady } from '@polkadot/util-crypto'; // README: sr25519 needs the WASM crypto ready
import { TangleFaaSClient } from '@faas/sdk';

await cryptoWaitReady(); // README
const keyringPair = new Keyring({ type: 'sr25519' }).addFromUri(process.env.FAAS_TANGLE_ACCOUNT); // README: a permitted caller, //Charlie

const tangleClient = new TangleFaaSClient({
  rpcUrl: process.env.FAAS_TANGLE_RPC, // README: 'wss://tangle.network'; the local node here
  blueprintId: Number(process.env.FAAS_TANGLE_BLUEPRINT), // README: 123
  account: keyringPair
});

// Submit job on-chain
const jobId = await tangleClient.submitJob({
  code: 'console.log("Blockchain verified")',
  language: 'javascript',
  mode: 'ephemeral'
});

// Monitor job status
const statuses = []; // README: kept for the check below
tangleClient.on('jobUpdate', (update) => {
  console.log(`Job ${update.jobId}: ${update.status}`);
  statuses.push(update.status); // README
});

// Wait for verified result
const result = await tangleClient.waitForResult(jobId);
console.log('Verified output:', result.stdout);

console.log('SNIPPET tangle', JSON.stringify(result.stdout), result.verified, statuses.at(-1)); // README
await tangleClient.disconnect(); // README: so the process ends
