// The calls this node executes, by section. Other calls of the metadata decode fine but
// fail with CallFiltered-like `Unavailable` until a pallet here implements them.
import { balances } from './balances.js';
import { multiAssetDelegation } from './multi-asset-delegation.js';
import { services } from './services.js';
import { sudo } from './sudo.js';
import { system } from './system.js';
import type { Pallet } from './types.js';

export * from './types.js';
export { readAccount, writeAccount } from './balances.js';
export { isOperator, operatorStatus } from './multi-asset-delegation.js';

export const PALLETS: Pallet[] = [system, balances, sudo, multiAssetDelegation, services];
