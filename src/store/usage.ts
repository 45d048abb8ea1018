// Usage records: one row per finished execution, per key, written when it ends, so an
// operator restart loses none. Totals and per-day metrics are sums over these rows.
import type { Db } from './database.js';

export interface UsageRecord {
  executionId: string;
  keyId: string;
  language: string;
  mode: string;
  startedAt: number;
  finishedAt: number;
  exitCode: number | null;
  /** Cgroup CPU time of the execution. */
  cpuSeconds: number;
  /** Peak memory (GB) × wall time (s). */
  memoryGbSeconds: number;
  cost: number;
}

export interface UsageTotalsRow {
  executions: number;
  cpuSeconds: number;
  memoryGbSeconds: number;
  cost: number;
}

export class UsageStore {
  private readonly insert;

  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS usage (
      execution_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, language TEXT NOT NULL, mode TEXT NOT NULL,
      started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, exit_code INTEGER,
      cpu_seconds REAL NOT NULL, memory_gb_seconds REAL NOT NULL, cost REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS usage_by_key_time ON usage (key_id, finished_at);`);
    // Instances were once recorded as mode `persistent` (the stateful execution mode's name too):
    // their rows (ids `inst-…`; executions have UUIDs) now say `instance`, `+network` kept.
    db.prepare("UPDATE usage SET mode = 'instance' || substr(mode, 11) WHERE mode IN ('persistent', 'persistent+network') AND execution_id GLOB 'inst-*'").run();
    this.insert = db.prepare('INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  record(r: UsageRecord): void {
    this.insert.run(r.executionId, r.keyId, r.language, r.mode, r.startedAt, r.finishedAt, r.exitCode, r.cpuSeconds, r.memoryGbSeconds, r.cost);
  }

  /** Sums of a key's executions that finished in [from, to) (ms since the epoch). */
  totals(keyId: string, from = 0, to = Number.MAX_SAFE_INTEGER): UsageTotalsRow {
    const r = this.db
      .prepare('SELECT COUNT(*) AS executions, COALESCE(SUM(cpu_seconds), 0) AS cpuSeconds, COALESCE(SUM(memory_gb_seconds), 0) AS memoryGbSeconds, COALESCE(SUM(cost), 0) AS cost FROM usage WHERE key_id = ? AND finished_at >= ? AND finished_at < ?')
      .get(keyId, from, to) as UsageTotalsRow;
    return r;
  }

  /** The same sums per UTC day. */
  daily(keyId: string, from: number, to: number): Array<UsageTotalsRow & { date: string }> {
    return this.db
      .prepare(
        "SELECT strftime('%Y-%m-%d', finished_at / 1000, 'unixepoch') AS date, COUNT(*) AS executions, SUM(cpu_seconds) AS cpuSeconds, SUM(memory_gb_seconds) AS memoryGbSeconds, SUM(cost) AS cost FROM usage WHERE key_id = ? AND finished_at >= ? AND finished_at < ? GROUP BY date ORDER BY date",
      )
      .all(keyId, from, to) as Array<UsageTotalsRow & { date: string }>;
  }
}
