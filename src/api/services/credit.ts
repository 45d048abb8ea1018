// The credit rule, on its own so the services that enforce it (executions, instances,
// snapshots) and the usage report import it without importing each other.
import { InsufficientCreditError } from '@faas/sdk/errors';
import type { ApiKey, UsageStore } from '../../store/index.js';

/**
 * The credit rule: a key whose balance (its credit − the cost of what it ran) is at or below
 * zero may not start anything (executions, instances, snapshots, branches, restores, merges);
 * reads stay allowed. The operator adds credit with `npm run operator -- keys credit ID AMOUNT`.
 */
export class CreditGuard {
  constructor(
    private readonly usage: UsageStore,
    private readonly defaultCredit: number,
  ) {}

  balance(key: ApiKey): number {
    return (key.credit ?? this.defaultCredit) - this.usage.totals(key.id).cost;
  }

  /** Throws INSUFFICIENT_CREDIT when the key's balance is at or below zero. */
  require(key: ApiKey): void {
    const b = this.balance(key);
    if (b <= 0) throw new InsufficientCreditError(`This key's balance is ${Math.round(b * 1e6) / 1e6} credits: nothing more can be started until the operator adds credit (keys credit ${key.id} AMOUNT).`);
  }
}
