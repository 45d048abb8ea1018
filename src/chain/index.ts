// Public face of the chain client.
export { PolkadotTangleClient, callKey } from './client.js';
export type { TangleClient, JobCall } from './client.js';
export { TxSender, ChainTxError, CallClosedError, connectApi, accountFromUri } from './tx.js';
export type { Included, SendOptions } from './tx.js';
export { NonceManager } from './nonce.js';
export { followChainEvents, scanBlocks } from './follow.js';
export type { ChainEvent, FollowOptions } from './follow.js';
export { blockEvents } from './blocks.js';
export type { EventRecord } from './blocks.js';
export { readService, readRegistration, readJobCall } from './services.js';
export type { ServiceRecord, OperatorRegistration } from './services.js';
export { readOperatorStatus, registerOperator } from './registration.js';
export type { OperatorChainStatus, RegisterOptions } from './registration.js';
