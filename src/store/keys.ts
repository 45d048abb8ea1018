// API keys. Only a key's SHA-256 is stored: a leaked database does not leak usable keys.
// A key reads `faas_<id>_<secret>`; the id finds the row, the hash checks the secret.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './database.js';

export interface ApiKey {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
  /** Per-key limits; null: the operator's defaults. */
  rateLimitRequests: number | null;
  rateLimitWindowMs: number | null;
  maxConcurrent: number | null;
  /** Credit granted to the key; null: the operator's default. */
  credit: number | null;
}

interface Row {
  id: string;
  name: string;
  hash: Buffer;
  created_at: number;
  revoked_at: number | null;
  rate_limit_requests: number | null;
  rate_limit_window_ms: number | null;
  max_concurrent: number | null;
  credit: number | null;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export type NewKeyOptions = Partial<Pick<ApiKey, 'rateLimitRequests' | 'rateLimitWindowMs' | 'maxConcurrent' | 'credit'>>;

export class KeyStore {
  // Every API request looks its key up: prepare that statement once.
  private readonly byId;

  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, hash BLOB NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER,
      rate_limit_requests INTEGER, rate_limit_window_ms INTEGER, max_concurrent INTEGER, credit REAL)`);
    this.byId = db.prepare('SELECT * FROM api_keys WHERE id = ?');
  }

  /** Creates a key; the secret is returned this once and never again. */
  create(name: string, o: NewKeyOptions = {}): { key: string; info: ApiKey } {
    const id = randomBytes(6).toString('hex');
    const key = `faas_${id}_${randomBytes(24).toString('base64url')}`;
    this.db
      .prepare('INSERT INTO api_keys (id, name, hash, created_at, revoked_at, rate_limit_requests, rate_limit_window_ms, max_concurrent, credit) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)')
      .run(id, name, sha256(key), Date.now(), o.rateLimitRequests ?? null, o.rateLimitWindowMs ?? null, o.maxConcurrent ?? null, o.credit ?? null);
    return { key, info: this.get(id)! };
  }

  /** The live key a presented secret belongs to, or null (unknown, malformed or revoked). */
  verify(presented: string): ApiKey | null {
    const m = /^faas_([0-9a-f]{12})_[A-Za-z0-9_-]+$/.exec(presented);
    if (!m) return null;
    const row = this.byId.get(m[1]) as Row | undefined;
    if (!row || row.revoked_at !== null) return null;
    return timingSafeEqual(row.hash, sha256(presented)) ? toKey(row) : null;
  }

  get(id: string): ApiKey | null {
    const row = this.byId.get(id) as Row | undefined;
    return row ? toKey(row) : null;
  }

  list(): ApiKey[] {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at').all() as Row[]).map(toKey);
  }

  /** Adds credit to a key (a key without its own credit starts from `defaultCredit`); the new credit, or null for no such key. */
  addCredit(id: string, amount: number, defaultCredit: number): number | null {
    const r = this.db.prepare('UPDATE api_keys SET credit = COALESCE(credit, ?) + ? WHERE id = ?').run(defaultCredit, amount, id);
    return r.changes === 1 ? this.get(id)!.credit : null;
  }

  /** Revokes a key at once; false when there is no such live key. */
  revoke(id: string): boolean {
    return this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(Date.now(), id).changes === 1;
  }
}

function toKey(r: Row): ApiKey {
  return {
    id: r.id,
    name: r.name,
    createdAt: new Date(r.created_at).toISOString(),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
    rateLimitRequests: r.rate_limit_requests,
    rateLimitWindowMs: r.rate_limit_window_ms,
    maxConcurrent: r.max_concurrent,
    credit: r.credit,
  };
}
