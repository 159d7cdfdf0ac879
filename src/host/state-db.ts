/**
 * `.bext/state.db`: the SQLite file behind storage, shared KV and queues (the stats live in their
 * own file, `.bext/stats.db`, so damage to one never costs the other). This module is the one
 * place that names the file and opens it, and the one that sets the pragmas of every bext SQLite
 * connection (each plugin worker's, the stats store's, `bext plugin storage`'s). SQLite's locking
 * serialises writers across threads and processes.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is appended to the WAL with write(2) before
 * better-sqlite3 returns, so once a write reported success it survives the process being
 * killed (kill -9): the bytes are in the OS page cache and SQLite replays the WAL on next open.
 * It does not fsync on every commit, so a power cut may lose the last moments of writes;
 * set BEXT_STATE_SYNC=full to fsync each commit as well (slower).
 *
 * Quota accounting: the bytes a plugin pays for in shared KV and queues are kept in
 * host_usage_shared by SQL triggers, so they stay exact no matter who writes (a worker, another
 * worker sharing a KV namespace, `bext plugin storage --clear`). Plugin storage has no trigger:
 * its usage is the sum of its rows' sizes, which each connection keeps in memory and re-reads when
 * another connection has committed (quota.ts). A trigger there would make every storage_set
 * commit a second page (the usage row) to the WAL, and that page write was most of its cost.
 * The view host_usage adds both up per plugin.
 */
import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { CapabilityContext } from '../runtime/capability.js';

export type StateDb = Database.Database;

// The native driver loads with the first open, not with this module: every plugin worker imports
// the storage capabilities, and most plugins never touch state.db.
const load = createRequire(import.meta.url);

/** Where the state database of a `.bext/` folder lives. */
export function stateDbPath(stateDir: string): string {
  return path.join(stateDir, 'state.db');
}

/** How long a writer waits for another connection's lock before giving up (ms). */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * Triggers that keep host_usage_shared equal to the bytes each payer owns in `table` (`payer`
 * names the plugin column). An update may move an entry to another payer (a KV overwrite by
 * another plugin).
 */
function usageTriggers(table: string, payer: string, opts: { updates: boolean }): string {
  const add = `INSERT INTO host_usage_shared (plugin, bytes) VALUES (NEW.${payer}, NEW.size)
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;`;
  const sub = `UPDATE host_usage_shared SET bytes = bytes - OLD.size WHERE plugin = OLD.${payer};`;
  const update = opts.updates
    ? `
CREATE TRIGGER IF NOT EXISTS ${table}_usage_upd AFTER UPDATE ON ${table} BEGIN
  ${sub}
  ${add}
END;`
    : '';
  return `
CREATE TRIGGER IF NOT EXISTS ${table}_usage_ins AFTER INSERT ON ${table} BEGIN
  ${add}
END;${update}
CREATE TRIGGER IF NOT EXISTS ${table}_usage_del AFTER DELETE ON ${table} BEGIN
  ${sub}
END;
`;
}

const TABLES = `
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

-- Bytes each plugin pays for in shared KV (entries it owns) and queues (its unconsumed messages).
CREATE TABLE IF NOT EXISTS host_usage_shared (
  plugin TEXT PRIMARY KEY,
  bytes  INTEGER NOT NULL
) WITHOUT ROWID;`;

const USAGE = `
${usageTriggers('host_kv', 'owner', { updates: true })}
${usageTriggers('host_queue', 'publisher', { updates: false })}
-- Every byte each plugin pays for: its storage rows plus its shared KV and queue bytes.
CREATE VIEW IF NOT EXISTS host_usage (plugin, bytes) AS
  SELECT plugin, sum(bytes) FROM (
    SELECT plugin, size AS bytes FROM host_storage
    UNION ALL SELECT plugin, bytes FROM host_usage_shared
  ) GROUP BY plugin;`;

/**
 * Files written before the storage trigger was dropped keep usage in a host_usage table that
 * includes storage, maintained by triggers named <table>_ins/_upd/_del: rebuild the shared part
 * from the rows and replace the table by the view. Runs under the write lock at every open; the
 * drops are no-ops once done.
 */
const MIGRATE_FROM_USAGE_TABLE = `
DROP TRIGGER IF EXISTS host_storage_ins;
DROP TRIGGER IF EXISTS host_storage_upd;
DROP TRIGGER IF EXISTS host_storage_del;
DROP TRIGGER IF EXISTS host_kv_ins;
DROP TRIGGER IF EXISTS host_kv_upd;
DROP TRIGGER IF EXISTS host_kv_del;
DROP TRIGGER IF EXISTS host_queue_ins;
DROP TRIGGER IF EXISTS host_queue_del;
DELETE FROM host_usage_shared;
INSERT INTO host_usage_shared (plugin, bytes)
  SELECT payer, sum(size) FROM (
    SELECT owner AS payer, size FROM host_kv UNION ALL SELECT publisher, size FROM host_queue
  ) GROUP BY payer;
DROP TABLE host_usage;`;

function createStateSchema(db: Database.Database): void {
  db.exec(TABLES);
  const usage = db.prepare<[], string>("SELECT type FROM sqlite_master WHERE name = 'host_usage'").pluck().get();
  if (usage === 'table') db.exec(MIGRATE_FROM_USAGE_TABLE);
  db.exec(USAGE);
}

function syncMode(): 'NORMAL' | 'FULL' {
  return (process.env.BEXT_STATE_SYNC ?? '').trim().toLowerCase() === 'full' ? 'FULL' : 'NORMAL';
}

/** The native driver (loaded on first use). */
export function sqliteDriver(): typeof Database {
  return load('better-sqlite3') as typeof Database;
}

// The compiled addon, named directly: left to itself better-sqlite3 finds it with the `bindings`
// package, which probes a dozen paths (~6 ms in each process and worker that opens a database).
let addonPath: string | null | undefined;
function nativeAddon(): string | undefined {
  if (addonPath === undefined) {
    try {
      addonPath = load.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      addonPath = null; // built elsewhere (a debug build, a custom prebuild): let `bindings` look
    }
  }
  return addonPath ?? undefined;
}

/**
 * Switches a connection to WAL. On a new file several connections opening at once (plugins start
 * in parallel) race for the exclusive lock the switch needs, and SQLite can answer SQLITE_BUSY
 * there without waiting on the busy timeout; so wait and retry here, within the same bound.
 */
function walMode(db: StateDb): void {
  const end = Date.now() + BUSY_TIMEOUT_MS;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() + pause > end) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

/**
 * Opens (creating if needed) a bext SQLite file with bext's pragmas, then runs `schema` under the
 * write lock (several connections starting at once simply queue on it).
 */
export function openSqlite(file: string, schema: string | ((db: StateDb) => void)): StateDb {
  mkdirSync(path.dirname(file), { recursive: true });
  const Driver = sqliteDriver();
  const db = new Driver(file, { timeout: BUSY_TIMEOUT_MS, nativeBinding: nativeAddon() });
  try {
    walMode(db);
    db.pragma(`synchronous = ${syncMode()}`);
    db.pragma('foreign_keys = ON');
    db.transaction(() => (typeof schema === 'string' ? db.exec(schema) : schema(db))).immediate();
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Pages the WAL may hold before the committing connection copies them back into the database
 * (SQLite's default is 1000). Storage writes are one small commit each; each checkpoint costs
 * two fsyncs and a copy of every page touched, so a longer log (up to ~16 MB) pays that four
 * times less often. Commits still reach the WAL before they return: durability is the same.
 */
const STATE_WAL_PAGES = 4000;

/** Opens (creating if needed) the state database with bext's pragmas and host schema. */
export function openStateDb(file: string): StateDb {
  const db = openSqlite(file, createStateSchema);
  db.pragma(`wal_autocheckpoint = ${STATE_WAL_PAGES}`);
  return db;
}

/** The guest instance's one connection, shared by the capabilities that store data. */
export function instanceStateDb(ctx: CapabilityContext): StateDb {
  return ctx.resource('state.db', () => openStateDb(stateDbPath(ctx.stateDir)), (db) => db.close());
}
