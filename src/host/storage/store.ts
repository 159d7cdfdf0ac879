/** Plugin-scoped storage (`storage_get/set/delete`): one key space per plugin name. */
import { ABI, type ReadResult } from '../../runtime/abi-codes.js';
import type { StateDb } from '../state-db.js';
import type { Quota } from '../quota.js';
import { asBuffer, decodeKey } from '../keys.js';
import { guarded } from '../guard.js';

export interface PluginStorage {
  get(key: Uint8Array): ReadResult;
  set(key: Uint8Array, value: Uint8Array): number;
  delete(key: Uint8Array): number;
}

export function createStorage(db: StateDb, plugin: string, quota: Quota): PluginStorage {
  const selectValue = db.prepare<[string, string], Buffer>('SELECT value FROM host_storage WHERE plugin = ? AND key = ?').pluck();
  const selectSize = db.prepare<[string, string], number>('SELECT size FROM host_storage WHERE plugin = ? AND key = ?').pluck();
  const upsert = db.prepare(
    `INSERT INTO host_storage (plugin, key, value, size) VALUES (?, ?, ?, ?)
     ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, size = excluded.size`,
  );
  const remove = db.prepare('DELETE FROM host_storage WHERE plugin = ? AND key = ?');

  const write = db.transaction((key: string, value: Buffer, size: number): number => {
    const old = selectSize.get(plugin, key) ?? 0;
    if (!quota.allows(size - old)) return ABI.QUOTA_EXCEEDED;
    upsert.run(plugin, key, value, size);
    return ABI.OK;
  });

  return {
    get: guarded(plugin, 'storage_get', (keyBytes: Uint8Array): ReadResult => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      return selectValue.get(plugin, key) ?? ABI.NOT_FOUND;
    }),
    set: guarded(plugin, 'storage_set', (keyBytes: Uint8Array, value: Uint8Array): number => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      return write.immediate(key, asBuffer(value), keyBytes.length + value.length);
    }),
    delete: guarded(plugin, 'storage_delete', (keyBytes: Uint8Array): number => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      return remove.run(plugin, key).changes > 0 ? ABI.OK : ABI.NOT_FOUND;
    }),
  };
}
