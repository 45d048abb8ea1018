// Public face of the chain client.
export { PolkadotTangleClient, ChainTxError } from './client.js';
export type { TangleClient, JobCall, Included } from './client.js';
export { NonceManager } from './nonce.js';
export { followFinalizedEvents } from './follow.js';
export type { ChainEvent, FollowOptions } from './follow.js';
