// Tangle's EVM protocol (tnt-core) with viem: what the EVM client needs, and the operator's EVM
// backend builds on (it imports these from @faas/sdk/chain/evm).
export { EvmTxSender, revertReason } from './tx.js';
export { EvmAccount, readEvmRegistration, registerEvmOperator, requestEvmService, approveEvmService, submitEvmJob, submitEvmJobAt, receiptEvent } from './setup.js';
export { tangleAbi, stakingAbi, statusRegistryAbi } from './abi.js';
