// Usage per key: totals over a period with per-day rows, and the current standing (costs,
// balance against the key's credit, rate limit left, executions running).
import type { PriceTable, RateLimits } from '../../config.js';
import { ValidationError } from '@faas/sdk/errors';
import type { ApiKey, UsageStore } from '../../store/index.js';
import type { CurrentUsage, UsageMetrics } from '@faas/sdk/wire';
import type { ExecutionService } from './executions.js';
import type { RateLimiter } from './rate-limiter.js';

const DAY = 86_400_000;

function instant(field: string, text: string | undefined, def: number, endOfDay: boolean): number {
  if (text === undefined) return def;
  // A bare date means the whole day: from its start, or up to its end.
  const t = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) + (endOfDay ? DAY : 0) : Date.parse(text);
  if (Number.isNaN(t)) throw new ValidationError(field, 'expected an ISO date or date-time');
  return t;
}

export class UsageService {
  constructor(
    private readonly d: { usage: UsageStore; limiter: RateLimiter; executions: ExecutionService; prices: PriceTable; defaultCredit: number },
  ) {}

  metrics(key: ApiKey, q: { startDate?: string; endDate?: string }): UsageMetrics {
    const to = instant('endDate', q.endDate, Date.now() + 1, true);
    const from = instant('startDate', q.startDate, to - 30 * DAY, false);
    if (from > to) throw new ValidationError('startDate', 'must not be after endDate');
    return { startDate: new Date(from).toISOString(), endDate: new Date(to).toISOString(), ...this.d.usage.totals(key.id, from, to), daily: this.d.usage.daily(key.id, from, to) };
  }

  current(key: ApiKey, limits: RateLimits): CurrentUsage {
    const totals = this.d.usage.totals(key.id);
    const credit = key.credit ?? this.d.defaultCredit;
    const l = this.d.limiter.status(key.id, limits);
    return {
      ...totals,
      credit,
      balance: credit - totals.cost,
      activeExecutions: this.d.executions.active(key.id),
      rateLimit: { limit: l.limit, remaining: l.remaining, resetAt: l.resetAt.toISOString(), windowMs: l.windowMs, maxConcurrent: l.maxConcurrent },
      prices: { ...this.d.prices },
    };
  }
}
