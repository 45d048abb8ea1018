// Per-key rate limits: requests per fixed window, and executions running at once. In memory:
// a restart gives every key a fresh window, which errs on the caller's side.
import { RateLimitError } from '@faas/sdk/errors';
import type { RateLimits } from '../../config.js';

export interface LimitStatus {
  limit: number;
  remaining: number;
  resetAt: Date;
  windowMs: number;
  maxConcurrent: number;
  active: number;
}

interface Window {
  start: number;
  count: number;
  end: number;
}

/** Past this many windows (one per key, or per client IP on the public routes), ended ones are dropped. */
const PRUNE_AT = 10_000;

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly active = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  private window(keyId: string, limits: RateLimits): Window {
    const t = this.now();
    let w = this.windows.get(keyId);
    if (!w || t >= w.start + limits.windowMs) {
      if (!w && this.windows.size >= PRUNE_AT) this.prune(t);
      w = { start: t, count: 0, end: t + limits.windowMs };
      this.windows.set(keyId, w);
    }
    return w;
  }

  /** Drops ended windows (memory stays bounded however many clients come by). */
  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t >= w.end) this.windows.delete(k);
  }

  /** Counts one request; throws RateLimitError (with the window's end) when over the limit. */
  hit(keyId: string, limits: RateLimits): LimitStatus {
    const w = this.window(keyId, limits);
    if (w.count >= limits.requests) {
      throw new RateLimitError(new Date(w.start + limits.windowMs), `Rate limit of ${limits.requests} requests per ${limits.windowMs / 1000} s reached; retry after ${new Date(w.start + limits.windowMs).toISOString()}.`);
    }
    w.count++;
    return this.status(keyId, limits);
  }

  /** Takes one of the key's concurrent-execution slots; the returned function gives it back (once). */
  acquire(keyId: string, limits: RateLimits): () => void {
    const n = this.active.get(keyId) ?? 0;
    if (n >= limits.concurrent) {
      // No fixed reset for a slot: suggest a short wait, the time a typical execution takes.
      throw new RateLimitError(new Date(this.now() + 1000), `At most ${limits.concurrent} executions may run at once for this key; retry when one finishes.`);
    }
    this.active.set(keyId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(keyId) ?? 1) - 1;
      if (left > 0) this.active.set(keyId, left);
      else this.active.delete(keyId);
    };
  }

  status(keyId: string, limits: RateLimits): LimitStatus {
    const w = this.window(keyId, limits);
    return {
      limit: limits.requests,
      remaining: Math.max(0, limits.requests - w.count),
      resetAt: new Date(w.start + limits.windowMs),
      windowMs: limits.windowMs,
      maxConcurrent: limits.concurrent,
      active: this.active.get(keyId) ?? 0,
    };
  }
}
