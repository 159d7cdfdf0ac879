/**
 * `.bext/state.db`: the SQLite file behind storage, shared KV and queues (stats keep their own
 * tables in the same file). Every plugin worker opens its own connection; SQLite's locking
 * serialises writers across threads and processes.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is appended to the WAL with write(2) before
 * better-sqlite3 returns, so once a write reported success it survives the process being
 * killed (kill -9): the bytes are in the OS page cache and SQLite replays the WAL on next open.
 * It does not fsync on every commit, so a power cut may lose the last moments of writes;
 * set BEXT_STATE_SYNC=full to fsync each commit as well (slower).
 *
 * Quota accounting lives in SQL triggers, so usage stays exact no matter who writes
 * (a worker, another worker sharing a KV namespace, or `bext plugin storage --clear`).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type StateDb = Database.Database;

/** How long a writer waits for another connection's lock before giving up (ms). */
export const BUSY_TIMEOUT_MS = 5_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS host_storage (
  plugin TEXT NOT NULL,
  key    TEXT NOT NULL,
  value  BLOB NOT NULL,
  size   INTEGER NOT NULL,              -- UTF-8 bytes of key + bytes of value
  PRIMARY KEY (plugin, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS host_kv (
  namespace TEXT NOT NULL,
  key       TEXT NOT NULL,
  value     BLOB NOT NULL,
  size      INTEGER NOT NULL,
  owner     TEXT NOT NULL,              -- the plugin whose quota pays for this entry (last writer)
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS host_queue (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  queue     TEXT NOT NULL,
  body      BLOB NOT NULL,
  size      INTEGER NOT NULL,
  publisher TEXT NOT NULL,            -- pays for the message until it is consumed
  published_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS host_queue_by_name ON host_queue (queue, id);

-- Bytes each plugin currently pays for: its storage, the KV entries it owns, its queued messages.
CREATE TABLE IF NOT EXISTS host_usage (
  plugin TEXT PRIMARY KEY,
  bytes  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS host_storage_ins AFTER INSERT ON host_storage BEGIN
  INSERT INTO host_usage (plugin, bytes) VALUES (NEW.plugin, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS host_storage_upd AFTER UPDATE ON host_storage BEGIN
  UPDATE host_usage SET bytes = bytes - OLD.size WHERE plugin = OLD.plugin;
  INSERT INTO host_usage (plugin, bytes) VALUES (NEW.plugin, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS host_storage_del AFTER DELETE ON host_storage BEGIN
  UPDATE host_usage SET bytes = bytes - OLD.size WHERE plugin = OLD.plugin;
END;

CREATE TRIGGER IF NOT EXISTS host_kv_ins AFTER INSERT ON host_kv BEGIN
  INSERT INTO host_usage (plugin, bytes) VALUES (NEW.owner, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS host_kv_upd AFTER UPDATE ON host_kv BEGIN
  UPDATE host_usage SET bytes = bytes - OLD.size WHERE plugin = OLD.owner;
  INSERT INTO host_usage (plugin, bytes) VALUES (NEW.owner, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS host_kv_del AFTER DELETE ON host_kv BEGIN
  UPDATE host_usage SET bytes = bytes - OLD.size WHERE plugin = OLD.owner;
END;

CREATE TRIGGER IF NOT EXISTS host_queue_ins AFTER INSERT ON host_queue BEGIN
  INSERT INTO host_usage (plugin, bytes) VALUES (NEW.publisher, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS host_queue_del AFTER DELETE ON host_queue BEGIN
  UPDATE host_usage SET bytes = bytes - OLD.size WHERE plugin = OLD.publisher;
END;
`;

function syncMode(): 'NORMAL' | 'FULL' {
  return (process.env.BEXT_STATE_SYNC ?? '').trim().toLowerCase() === 'full' ? 'FULL' : 'NORMAL';
}

/** Opens (creating if needed) the state database with bext's pragmas and host schema. */
export function openStateDb(file: string): StateDb {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${syncMode()}`);
    db.pragma('foreign_keys = ON');
    // Schema creation takes the write lock; several workers starting at once simply queue on it.
    db.transaction(() => db.exec(SCHEMA)).immediate();
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
