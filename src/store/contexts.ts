// Stateful contexts, their snapshots and branches: the metadata that lets an operator find a
// context's family container again after a restart, and that keeps snapshots (whose files are
// kept on disk by content hash) listable, restorable and deletable.
import type { Db } from './database.js';

export interface ContextRecord {
  id: string;
  owner: string;
  /** The family container (Docker id) the context lives in. */
  family: string;
  language: string;
  /** The request's resources (JSON) the context was made with. */
  resources: string;
  /** The snapshot it was restored or branched from. */
  snapshotId: string | null;
  createdAt: number;
}

export interface SnapshotRecord {
  id: string;
  owner: string;
  /** The context it was taken of (for a merge: the base snapshot's context). */
  executionId: string;
  family: string;
  language: string;
  createdAt: number;
  sizeBytes: number;
  hasMemory: boolean;
  contentHash: string;
  /** For a merge: the snapshot the branches came from (its memory is the merge's). */
  baseSnapshotId: string | null;
}

export interface BranchRecord {
  id: string;
  owner: string;
  snapshotId: string;
  executionId: string;
  createdAt: number;
}

export class ContextStore {
  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS contexts (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, family TEXT NOT NULL, language TEXT NOT NULL,
        resources TEXT NOT NULL, snapshot_id TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS context_aliases (alias TEXT PRIMARY KEY, context_id TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, execution_id TEXT NOT NULL, family TEXT NOT NULL,
        language TEXT NOT NULL, created_at INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
        has_memory INTEGER NOT NULL, content_hash TEXT NOT NULL, base_snapshot_id TEXT);
      CREATE INDEX IF NOT EXISTS snapshots_by_owner ON snapshots (owner, created_at);
      CREATE INDEX IF NOT EXISTS snapshots_by_hash ON snapshots (content_hash);
      CREATE TABLE IF NOT EXISTS branches (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, snapshot_id TEXT NOT NULL, execution_id TEXT NOT NULL,
        created_at INTEGER NOT NULL);`);
  }

  addContext(c: ContextRecord): void {
    this.db
      .prepare('INSERT INTO contexts VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(c.id, c.owner, c.family, c.language, c.resources, c.snapshotId, c.createdAt);
  }

  /** Another execution id that names the same context (each run in a context gets one). */
  addAlias(alias: string, contextId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO context_aliases VALUES (?, ?)').run(alias, contextId);
  }

  /** The context an execution id names (its own id or a run's), or null. */
  context(idOrAlias: string): ContextRecord | null {
    const row = this.db
      .prepare(
        `SELECT * FROM contexts WHERE id = ? UNION ALL
         SELECT c.* FROM context_aliases a JOIN contexts c ON c.id = a.context_id WHERE a.alias = ? LIMIT 1`,
      )
      .get(idOrAlias, idOrAlias) as Record<string, unknown> | undefined;
    return row ? toContext(row) : null;
  }

  allContexts(): ContextRecord[] {
    return (this.db.prepare('SELECT * FROM contexts').all() as Record<string, unknown>[]).map(toContext);
  }

  /** How many live contexts an owner has (restores and branches included). */
  contextCount(owner: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM contexts WHERE owner = ?').get(owner) as { n: number }).n;
  }

  /** The family containers an owner's contexts and snapshots live in. */
  familiesOf(owner: string): string[] {
    return (this.db.prepare('SELECT family FROM contexts WHERE owner = ? UNION SELECT family FROM snapshots WHERE owner = ?').all(owner, owner) as Array<{ family: string }>).map((r) => r.family);
  }

  contextsOf(family: string): ContextRecord[] {
    return (this.db.prepare('SELECT * FROM contexts WHERE family = ?').all(family) as Record<string, unknown>[]).map(toContext);
  }

  removeContext(id: string): void {
    this.db.prepare('DELETE FROM contexts WHERE id = ?').run(id);
    this.db.prepare('DELETE FROM context_aliases WHERE context_id = ?').run(id);
  }

  addSnapshot(s: SnapshotRecord): void {
    this.db
      .prepare('INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(s.id, s.owner, s.executionId, s.family, s.language, s.createdAt, s.sizeBytes, s.hasMemory ? 1 : 0, s.contentHash, s.baseSnapshotId);
  }

  snapshot(id: string): SnapshotRecord | null {
    const row = this.db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row ? toSnapshot(row) : null;
  }

  snapshotsOf(owner: string): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE owner = ? ORDER BY created_at').all(owner) as Record<string, unknown>[]).map(toSnapshot);
  }

  snapshotsIn(family: string): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE family = ?').all(family) as Record<string, unknown>[]).map(toSnapshot);
  }

  /** Moves a snapshot to another family container (its files were loaded there; memory was lost). */
  moveSnapshot(id: string, family: string): void {
    this.db.prepare('UPDATE snapshots SET family = ?, has_memory = 0 WHERE id = ?').run(family, id);
  }

  removeSnapshot(id: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }

  /** How many of an owner's snapshots share these files (stored once per owner and content hash). */
  countByHash(owner: string, contentHash: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM snapshots WHERE owner = ? AND content_hash = ?').get(owner, contentHash) as { n: number }).n;
  }

  addBranch(b: BranchRecord): void {
    this.db.prepare('INSERT INTO branches VALUES (?, ?, ?, ?, ?)').run(b.id, b.owner, b.snapshotId, b.executionId, b.createdAt);
  }

  branch(id: string): BranchRecord | null {
    const row = this.db.prepare('SELECT * FROM branches WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row
      ? { id: String(row.id), owner: String(row.owner), snapshotId: String(row.snapshot_id), executionId: String(row.execution_id), createdAt: Number(row.created_at) }
      : null;
  }
}

function toContext(row: Record<string, unknown>): ContextRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    family: String(row.family),
    language: String(row.language),
    resources: String(row.resources),
    snapshotId: row.snapshot_id === null ? null : String(row.snapshot_id),
    createdAt: Number(row.created_at),
  };
}

function toSnapshot(row: Record<string, unknown>): SnapshotRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    executionId: String(row.execution_id),
    family: String(row.family),
    language: String(row.language),
    createdAt: Number(row.created_at),
    sizeBytes: Number(row.size_bytes),
    hasMemory: Number(row.has_memory) === 1,
    contentHash: String(row.content_hash),
    baseSnapshotId: row.base_snapshot_id === null ? null : String(row.base_snapshot_id),
  };
}
