/**
 * Read and clear a plugin's stored data from outside the server (`bext plugin storage`).
 * Works on the same tables and triggers as the workers, so usage stays exact even while a
 * dev server is running against the same file.
 */
import type { StateDb } from '../state-db.js';

export interface StoredKey {
  key: string;
  /** Bytes of key + value (what the quota counts). */
  size: number;
  valueBytes: number;
}

export interface PluginUsage {
  /** Every byte this plugin pays for: storage + KV entries it owns + unconsumed queue messages. */
  totalBytes: number;
  storage: { keys: number; bytes: number };
  kv: { entries: number; bytes: number; namespaces: string[] };
  queues: { messages: number; bytes: number; names: string[] };
}

export function listKeys(db: StateDb, plugin: string): StoredKey[] {
  return db
    .prepare<[string], StoredKey>('SELECT key, size, length(value) AS valueBytes FROM host_storage WHERE plugin = ? ORDER BY key')
    .all(plugin);
}

export function getValue(db: StateDb, plugin: string, key: string): Buffer | undefined {
  return db.prepare<[string, string], Buffer>('SELECT value FROM host_storage WHERE plugin = ? AND key = ?').pluck().get(plugin, key);
}

export function usage(db: StateDb, plugin: string): PluginUsage {
  const storage = db
    .prepare<[string], { keys: number; bytes: number }>('SELECT count(*) AS keys, coalesce(sum(size), 0) AS bytes FROM host_storage WHERE plugin = ?')
    .get(plugin)!;
  const kv = db
    .prepare<[string], { entries: number; bytes: number; namespaces: string | null }>(
      'SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes, group_concat(DISTINCT namespace) AS namespaces FROM host_kv WHERE owner = ?',
    )
    .get(plugin)!;
  const queues = db
    .prepare<[string], { messages: number; bytes: number; names: string | null }>(
      'SELECT count(*) AS messages, coalesce(sum(size), 0) AS bytes, group_concat(DISTINCT queue) AS names FROM host_queue WHERE publisher = ?',
    )
    .get(plugin)!;
  const total = db.prepare<[string], number>('SELECT bytes FROM host_usage WHERE plugin = ?').pluck().get(plugin) ?? 0;
  return {
    totalBytes: total,
    storage,
    kv: { entries: kv.entries, bytes: kv.bytes, namespaces: kv.namespaces ? kv.namespaces.split(',').sort() : [] },
    queues: { messages: queues.messages, bytes: queues.bytes, names: queues.names ? queues.names.split(',').sort() : [] },
  };
}

/** Plugins that have anything stored (for "did you mean"). */
export function pluginsWithData(db: StateDb): string[] {
  return db
    .prepare<[], string>(
      'SELECT plugin FROM host_storage UNION SELECT owner FROM host_kv UNION SELECT publisher FROM host_queue ORDER BY 1',
    )
    .pluck()
    .all();
}

/** Deletes every plugin-scoped key of `plugin` (shared KV and queues are left alone). */
export function clearStorage(db: StateDb, plugin: string): { keys: number; bytes: number } {
  return db
    .transaction(() => {
      const before = db
        .prepare<[string], { keys: number; bytes: number }>('SELECT count(*) AS keys, coalesce(sum(size), 0) AS bytes FROM host_storage WHERE plugin = ?')
        .get(plugin)!;
      db.prepare('DELETE FROM host_storage WHERE plugin = ?').run(plugin);
      return before;
    })
    .immediate();
}
