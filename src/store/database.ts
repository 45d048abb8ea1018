// The embedded database (SQLite through better-sqlite3): one file holds the operator's job
// calls and outputs, API keys and usage records, each behind its own small store class.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Opens (creating the folder if needed) a database; ':memory:' for a throw-away one. */
export function openDatabase(path = ':memory:'): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    // Only the operator's user may read it (API key hashes, instance SSH keys, outputs): made
    // 0600 before SQLite opens it (its -wal and -shm files take the same mode), and an older
    // file's mode is narrowed.
    closeSync(openSync(path, 'a', 0o600));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  }
  const db = new Database(path);
  // Deleted and overwritten values are zeroed in the file, not left in free space (an SSH
  // private key handed out and deleted is gone from the file).
  db.pragma('secure_delete = ON');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // WAL keeps it crash-safe; a power loss may lose the last commits only
  return db;
}
