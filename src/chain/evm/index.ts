// Tangle's EVM protocol (tnt-core) as a chain backend: public face.
export { EvmTangleClient } from './client.js';
export type { EvmClientOptions } from './client.js';
export { EvmTxSender, revertReason } from './tx.js';
export { EvmAccount, readEvmRegistration, registerEvmOperator, requestEvmService, approveEvmService, submitEvmJob, receiptEvent } from './setup.js';
export { tangleAbi, stakingAbi, statusRegistryAbi } from './abi.js';
export { startHeartbeats } from './heartbeat.js';
export type { HeartbeatOptions } from './heartbeat.js';
