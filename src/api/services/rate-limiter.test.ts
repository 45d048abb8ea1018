// The per-key limiter without a server or Docker: a fixed window per key counted on a clock the
// test moves, concurrency slots given back once, and the window table kept bounded.
import { describe, expect, it } from 'vitest';
import { RateLimitError } from '@faas/sdk/errors';
import { RateLimiter } from './rate-limiter.js';

const limits = { requests: 3, windowMs: 1000, concurrent: 2 };

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('RateLimiter', () => {
  it("lets `requests` through per window, then throws RATE_LIMIT_EXCEEDED with the window's end", () => {
    const c = clock();
    const rl = new RateLimiter(c.now);
    expect(rl.hit('k', limits).remaining).toBe(2);
    rl.hit('k', limits);
    expect(rl.hit('k', limits).remaining).toBe(0);
    let err: unknown;
    try {
      rl.hit('k', limits);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).code).toBe('RATE_LIMIT_EXCEEDED');
    expect((err as RateLimitError).resetAt.getTime()).toBe(c.t + 1000);
  });

  it('starts a fresh window once the old one has ended, and keeps keys apart', () => {
    const c = clock();
    const rl = new RateLimiter(c.now);
    for (let i = 0; i < 3; i++) rl.hit('a', limits);
    expect(() => rl.hit('a', limits)).toThrow(RateLimitError);
    expect(rl.hit('b', limits).remaining).toBe(2); // another key has its own window
    c.t += 999;
    expect(() => rl.hit('a', limits)).toThrow(RateLimitError);
    c.t += 1;
    const s = rl.hit('a', limits);
    expect(s.remaining).toBe(2);
    expect(s.resetAt.getTime()).toBe(c.t + 1000);
  });

  it('hands out `concurrent` slots; a release frees one, a second release of the same slot frees nothing', () => {
    const rl = new RateLimiter(clock().now);
    const r1 = rl.acquire('k', limits);
    rl.acquire('k', limits);
    expect(() => rl.acquire('k', limits)).toThrow(RateLimitError);
    expect(rl.status('k', limits).active).toBe(2);
    r1();
    r1();
    expect(rl.status('k', limits).active).toBe(1);
    rl.acquire('k', limits);
    expect(() => rl.acquire('k', limits)).toThrow(/At most 2 executions/);
  });

  it('status reports the limits without counting a request', () => {
    const rl = new RateLimiter(clock().now);
    rl.hit('k', limits);
    const s = rl.status('k', limits);
    expect(s).toMatchObject({ limit: 3, remaining: 2, windowMs: 1000, maxConcurrent: 2, active: 0 });
    expect(rl.status('k', limits).remaining).toBe(2);
  });

  it('drops ended windows once 10,000 are held, so many clients cannot grow it without end', () => {
    const c = clock();
    const rl = new RateLimiter(c.now);
    for (let i = 0; i < 10_000; i++) rl.hit(`ip-${i}`, limits);
    c.t += 1000; // every window ended
    rl.hit('new', limits); // the 10,001st key prunes the ended ones
    const windows = (rl as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBe(1);
    expect(windows.has('new')).toBe(true);
  });
});
