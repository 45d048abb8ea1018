// Public face of the chain client. The services pallet's reads and writes are the SDK's
// (@faas/sdk/chain, shared with TangleFaaSClient); the operator's client and registration are here.
export * from '@faas/sdk/chain';
export { PolkadotTangleClient } from './client.js';
export type { TangleClient, JobCall } from './client.js';
export { readOperatorStatus, registerOperator } from './registration.js';
export type { OperatorChainStatus, RegisterOptions } from './registration.js';
