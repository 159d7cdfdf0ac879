/**
 * Shared KV (`kv_get/kv_set/kv_delete`): namespaces shared by every plugin that lists them in
 * `permissions.kv_namespaces`; any other namespace is "permission denied" (-2), for reads too.
 * Each entry is paid for by the plugin that wrote it last: overwriting another plugin's entry
 * moves the whole entry onto the writer's quota (and refunds the previous owner).
 */
import { ABI, type ReadResult } from '../../runtime/abi-codes.js';
import type { StateDb } from '../state-db.js';
import type { Quota } from '../quota.js';
import { asBuffer, decodeKey } from '../keys.js';
import { guarded } from '../guard.js';

export interface SharedKv {
  get(namespace: string, key: Uint8Array): ReadResult;
  set(namespace: string, key: Uint8Array, value: Uint8Array): number;
  delete(namespace: string, key: Uint8Array): number;
}

export function createKv(db: StateDb, plugin: string, namespaces: readonly string[], quota: Quota): SharedKv {
  const allowed = new Set(namespaces);
  const selectValue = db.prepare<[string, string], Buffer>('SELECT value FROM host_kv WHERE namespace = ? AND key = ?').pluck();
  const selectOld = db.prepare<[string, string], { size: number; owner: string }>(
    'SELECT size, owner FROM host_kv WHERE namespace = ? AND key = ?',
  );
  const upsert = db.prepare(
    `INSERT INTO host_kv (namespace, key, value, size, owner) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, size = excluded.size, owner = excluded.owner`,
  );
  const remove = db.prepare('DELETE FROM host_kv WHERE namespace = ? AND key = ?');

  const write = db.transaction((ns: string, key: string, value: Buffer, size: number): number => {
    const old = selectOld.get(ns, key);
    const refund = old !== undefined && old.owner === plugin ? old.size : 0;
    if (!quota.allows(size - refund)) return ABI.QUOTA_EXCEEDED;
    upsert.run(ns, key, value, size, plugin);
    return ABI.OK;
  });

  return {
    get: guarded(plugin, 'kv_get', (ns: string, keyBytes: Uint8Array): ReadResult => {
      if (!allowed.has(ns)) return ABI.PERMISSION_DENIED;
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      return selectValue.get(ns, key) ?? ABI.NOT_FOUND;
    }),
    set: guarded(plugin, 'kv_set', (ns: string, keyBytes: Uint8Array, value: Uint8Array): number => {
      if (!allowed.has(ns)) return ABI.PERMISSION_DENIED;
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      try {
        return write.immediate(ns, key, asBuffer(value), keyBytes.length + value.length);
      } finally {
        quota.forget(true); // the triggers moved this plugin's (and maybe another's) shared bytes
      }
    }),
    delete: guarded(plugin, 'kv_delete', (ns: string, keyBytes: Uint8Array): number => {
      if (!allowed.has(ns)) return ABI.PERMISSION_DENIED;
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      try {
        return remove.run(ns, key).changes > 0 ? ABI.OK : ABI.NOT_FOUND;
      } finally {
        quota.forget(true);
      }
    }),
  };
}
