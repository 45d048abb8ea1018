// Reading and writing Tangle's services pallet with @polkadot/api: what TangleFaaSClient needs,
// and the operator builds on (its chain client imports these from @faas/sdk/chain).
export { TxSender, ChainTxError, CallClosedError, connectApi, accountFromUri } from './tx.js';
export type { Included, SendOptions, ExternalSigner, TxAccount } from './tx.js';
export { describeChainFailure, describeDispatchError, dispatchErrorReason, errorDocs } from './describe.js';
export type { DispatchErrorLike, ErrorDocs } from './describe.js';
export { NonceManager } from './nonce.js';
export { followChainEvents, scanBlocks } from './follow.js';
export type { ChainEvent, FollowOptions } from './follow.js';
export { blockEvents } from './blocks.js';
export type { EventRecord } from './blocks.js';
export { readService, readRegistration, readJobCall, callKey } from './services.js';
export type { ServiceRecord, OperatorRegistration } from './services.js';
