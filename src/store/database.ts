// The embedded database (SQLite through better-sqlite3): one file holds the operator's job
// calls and outputs, API keys and usage records, each behind its own small store class.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Opens (creating the folder if needed) a database; ':memory:' for a throw-away one. */
export function openDatabase(path = ':memory:'): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // WAL keeps it crash-safe; a power loss may lose the last commits only
  return db;
}
