// Persistent instances and their exposed URLs. The containers outlive the operator process;
// these rows are how a restarted operator finds them again (and which key owns each). The
// instance's SSH private key is kept only until its owner has fetched it once; tokens of
// exposed URLs are stored as their SHA-256 only.
import { createHash, randomUUID } from 'node:crypto';
import type { Db } from './database.js';

export type InstanceStatus = 'running' | 'paused' | 'stopped';
/** Why an instance stopped: its owner, its ttl, its idle time, its main process ended, or its container vanished. */
export type StopReason = 'user' | 'ttl' | 'idle' | 'exited' | 'lost';

export interface InstanceResources {
  cpuCores: number;
  memoryMb: number;
  diskGb: number;
  gpuCount: number;
}

export interface InstanceRecord {
  id: string;
  keyId: string;
  status: InstanceStatus;
  language: string;
  image: string;
  snapshotId: string | null;
  resources: InstanceResources;
  /** Outbound network granted (only where the operator allows it). */
  network: boolean;
  createdAt: number;
  expiresAt: number;
  /** Idle seconds before an automatic stop; null: never for idleness. */
  autoStopS: number | null;
  containerId: string | null;
  /** The OpenSSH public key of the instance's key pair (authorized_keys line). */
  publicKey: string;
  /** The private key, until its owner has fetched it once; null afterwards. */
  privateKey: string | null;
  /** The port the operator relays SSH on (re-used after a restart when free). */
  sshPort: number | null;
  pausedAt: number | null;
  /** Paused time so far, ms (not counting a pause in progress). */
  pausedMs: number;
  stoppedAt: number | null;
  stopReason: StopReason | null;
  /** Container CPU seconds at stop (the cgroup total). */
  cpuSeconds: number;
}

export interface ExposureRecord {
  instanceId: string;
  name: string;
  port: number;
  /** Whether `/i/<id>/<name>` is stripped from the path before it reaches the port. */
  stripPrefix: boolean;
  tokenHash: Buffer;
  createdAt: number;
}

interface Row {
  id: string;
  key_id: string;
  status: InstanceStatus;
  language: string;
  image: string;
  snapshot_id: string | null;
  resources: string;
  network: number;
  created_at: number;
  expires_at: number;
  auto_stop_s: number | null;
  container_id: string | null;
  public_key: string;
  private_key: string | null;
  ssh_port: number | null;
  paused_at: number | null;
  paused_ms: number;
  stopped_at: number | null;
  stop_reason: StopReason | null;
  cpu_seconds: number;
}

interface ExposureRow {
  instance_id: string;
  name: string;
  port: number;
  strip_prefix: number;
  token_hash: Buffer;
  created_at: number;
}

export const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

export class InstanceStore {
  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS instances (
      id TEXT PRIMARY KEY, key_id TEXT NOT NULL, status TEXT NOT NULL, language TEXT NOT NULL, image TEXT NOT NULL,
      snapshot_id TEXT, resources TEXT NOT NULL, network INTEGER NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, auto_stop_s INTEGER, container_id TEXT, public_key TEXT NOT NULL, private_key TEXT,
      ssh_port INTEGER, paused_at INTEGER, paused_ms INTEGER NOT NULL DEFAULT 0, stopped_at INTEGER, stop_reason TEXT,
      cpu_seconds REAL NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS instances_by_key ON instances (key_id, created_at);
      CREATE TABLE IF NOT EXISTS instance_exposures (
        instance_id TEXT NOT NULL, name TEXT NOT NULL, port INTEGER NOT NULL, strip_prefix INTEGER NOT NULL,
        token_hash BLOB NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (instance_id, name));
      CREATE TABLE IF NOT EXISTS instance_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
  }

  /**
   * This database's identity, made once: containers are labelled with it, so an operator only
   * ever removes instance containers that belong to its own database.
   */
  identity(): string {
    const row = this.db.prepare("SELECT value FROM instance_meta WHERE key = 'identity'").get() as { value: string } | undefined;
    if (row) return row.value;
    const id = randomUUID();
    this.db.prepare("INSERT OR IGNORE INTO instance_meta (key, value) VALUES ('identity', ?)").run(id);
    return this.identity();
  }

  insert(r: InstanceRecord): void {
    this.db
      .prepare(
        `INSERT INTO instances (id, key_id, status, language, image, snapshot_id, resources, network, created_at, expires_at,
          auto_stop_s, container_id, public_key, private_key, ssh_port, paused_at, paused_ms, stopped_at, stop_reason, cpu_seconds)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.id, r.keyId, r.status, r.language, r.image, r.snapshotId, JSON.stringify(r.resources), r.network ? 1 : 0, r.createdAt, r.expiresAt, r.autoStopS, r.containerId, r.publicKey, r.privateKey, r.sshPort, r.pausedAt, r.pausedMs, r.stoppedAt, r.stopReason, r.cpuSeconds);
  }

  /** Writes the changing fields of an instance. */
  update(r: InstanceRecord): void {
    const hadKey = r.privateKey === null && (this.db.prepare('SELECT private_key IS NOT NULL AS k FROM instances WHERE id = ?').get(r.id) as { k: number } | undefined)?.k === 1;
    this.db
      .prepare('UPDATE instances SET status = ?, container_id = ?, private_key = ?, ssh_port = ?, paused_at = ?, paused_ms = ?, stopped_at = ?, stop_reason = ?, cpu_seconds = ? WHERE id = ?')
      .run(r.status, r.containerId, r.privateKey, r.sshPort, r.pausedAt, r.pausedMs, r.stoppedAt, r.stopReason, r.cpuSeconds, r.id);
    if (hadKey) this.scrub();
  }

  /**
   * After a private key left the table: the database zeroes what it deletes (secure_delete),
   * but the write-ahead log still holds the pages it was written in until a checkpoint; this
   * one copies the log into the file and truncates it, so no copy of the key stays on disk.
   */
  private scrub(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  get(id: string): InstanceRecord | null {
    const row = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : null;
  }

  /** A key's instances, newest first (stopped ones included). */
  listByKey(keyId: string): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM instances WHERE key_id = ? ORDER BY created_at DESC').all(keyId) as Row[]).map(toRecord);
  }

  /** Instances not stopped: what a (re)started operator must find again. */
  live(): InstanceRecord[] {
    return (this.db.prepare("SELECT * FROM instances WHERE status != 'stopped' ORDER BY created_at").all() as Row[]).map(toRecord);
  }

  /** Takes the private key out (it is handed over once): returns it and forgets it. */
  takePrivateKey(id: string): string | null {
    const key = this.db.transaction(() => {
      const row = this.db.prepare('SELECT private_key FROM instances WHERE id = ?').get(id) as { private_key: string | null } | undefined;
      if (!row?.private_key) return null;
      this.db.prepare('UPDATE instances SET private_key = NULL WHERE id = ?').run(id);
      return row.private_key;
    })();
    if (key) this.scrub();
    return key;
  }

  setPublicKey(id: string, publicKey: string): void {
    this.db.prepare('UPDATE instances SET public_key = ?, private_key = NULL WHERE id = ?').run(publicKey, id);
    this.scrub();
  }

  putExposure(e: ExposureRecord): void {
    this.db
      .prepare('INSERT INTO instance_exposures (instance_id, name, port, strip_prefix, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, name) DO UPDATE SET port = excluded.port, strip_prefix = excluded.strip_prefix, token_hash = excluded.token_hash, created_at = excluded.created_at')
      .run(e.instanceId, e.name, e.port, e.stripPrefix ? 1 : 0, e.tokenHash, e.createdAt);
  }

  exposure(instanceId: string, name: string): ExposureRecord | null {
    const row = this.db.prepare('SELECT * FROM instance_exposures WHERE instance_id = ? AND name = ?').get(instanceId, name) as ExposureRow | undefined;
    return row ? toExposure(row) : null;
  }

  exposures(instanceId: string): ExposureRecord[] {
    return (this.db.prepare('SELECT * FROM instance_exposures WHERE instance_id = ? ORDER BY created_at').all(instanceId) as ExposureRow[]).map(toExposure);
  }

  removeExposure(instanceId: string, name: string): boolean {
    return this.db.prepare('DELETE FROM instance_exposures WHERE instance_id = ? AND name = ?').run(instanceId, name).changes === 1;
  }

  removeExposures(instanceId: string): void {
    this.db.prepare('DELETE FROM instance_exposures WHERE instance_id = ?').run(instanceId);
  }
}

function toRecord(r: Row): InstanceRecord {
  return {
    id: r.id,
    keyId: r.key_id,
    status: r.status,
    language: r.language,
    image: r.image,
    snapshotId: r.snapshot_id,
    resources: JSON.parse(r.resources) as InstanceResources,
    network: r.network === 1,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    autoStopS: r.auto_stop_s,
    containerId: r.container_id,
    publicKey: r.public_key,
    privateKey: r.private_key,
    sshPort: r.ssh_port,
    pausedAt: r.paused_at,
    pausedMs: r.paused_ms,
    stoppedAt: r.stopped_at,
    stopReason: r.stop_reason,
    cpuSeconds: r.cpu_seconds,
  };
}

function toExposure(r: ExposureRow): ExposureRecord {
  return { instanceId: r.instance_id, name: r.name, port: r.port, stripPrefix: r.strip_prefix === 1, tokenHash: r.token_hash, createdAt: r.created_at };
}
