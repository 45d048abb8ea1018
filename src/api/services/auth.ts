// Who is calling: the API key from `Authorization: Bearer …` (or `?apiKey=` where a client
// cannot set headers, as a browser WebSocket), and that key's limits.
import type { RateLimits } from '../../config.js';
import { AuthError } from '@faas/sdk/errors';
import type { ApiKey, KeyStore } from '../../store/index.js';

export class Authenticator {
  constructor(
    private readonly keys: KeyStore,
    private readonly defaults: RateLimits,
  ) {}

  authenticate(header: string | undefined, query: string | undefined): ApiKey {
    const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : query;
    if (!presented) throw new AuthError();
    const key = this.keys.verify(presented);
    if (!key) throw new AuthError('Unknown or revoked API key: create one with `npm run operator -- keys create`.');
    return key;
  }

  limitsOf(key: ApiKey): RateLimits {
    return {
      requests: key.rateLimitRequests ?? this.defaults.requests,
      windowMs: key.rateLimitWindowMs ?? this.defaults.windowMs,
      concurrent: key.maxConcurrent ?? this.defaults.concurrent,
    };
  }
}
