// Tangle's EVM protocol (tnt-core) as a chain backend: public face. The contract calls shared
// with the SDK's EVM client come from @faas/sdk/chain/evm.
export * from '@faas/sdk/chain/evm';
export { EvmTangleClient } from './client.js';
export type { EvmClientOptions } from './client.js';
export { startHeartbeats } from './heartbeat.js';
export type { HeartbeatOptions } from './heartbeat.js';
