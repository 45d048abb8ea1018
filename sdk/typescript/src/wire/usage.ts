// Usage as the SDKs show it: the gateway's flat totals (wire/api.ts) reshaped into the
// documented `executions.totalCount`, `executions.cpuSeconds`, `costs.totalCost`,
// `currentBalance`, `rateLimitRemaining`, with every wire field beside them (the count, under
// its documented name only: `executions` is the group).
import { z } from 'zod';
import { CurrentUsageSchema, UsageMetricsSchema } from './api.js';
import type { UsageTotals } from './api.js';

function grouped<T extends UsageTotals>(u: T) {
  const { executions, ...rest } = u;
  return {
    ...rest,
    executions: { totalCount: executions, cpuSeconds: u.cpuSeconds, memoryGbSeconds: u.memoryGbSeconds },
    costs: { totalCost: u.cost },
  };
}

/** GET /v1/usage/metrics, as `client.usage.getMetrics()` resolves. */
export const UsageMetricsViewSchema = UsageMetricsSchema.transform((u) => ({ ...grouped(u), daily: u.daily.map((d) => grouped(d)) }));
export type UsageMetricsView = z.output<typeof UsageMetricsViewSchema>;

/** GET /v1/usage/current, as `client.usage.getCurrent()` resolves. */
export const CurrentUsageViewSchema = CurrentUsageSchema.transform((u) => ({
  ...grouped(u),
  costs: { totalCost: u.cost, pricePerExecution: u.prices.perExecution, pricePerCpuSecond: u.prices.perCpuSecond, pricePerGbSecond: u.prices.perGbSecond },
  currentBalance: u.balance,
  rateLimitRemaining: u.rateLimit.remaining,
}));
export type CurrentUsageView = z.output<typeof CurrentUsageViewSchema>;
