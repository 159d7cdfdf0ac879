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
  const remove = db.prepare<[string, string], number>('DELETE FROM host_storage WHERE plugin = ? AND key = ? RETURNING size').pluck();

  // Reports the change in bytes (null: refused; 'at most size': allowed by Quota.fits, the row
  // it replaced not looked at), so the quota's count moves only once committed.
  const write = db.transaction((key: string, value: Buffer, size: number): number | null | 'at most size' => {
    if (quota.fits(size)) {
      upsert.run(plugin, key, value, size);
      return 'at most size';
    }
    const delta = size - (selectSize.get(plugin, key) ?? 0);
    if (!quota.allows(delta)) return null;
    upsert.run(plugin, key, value, size);
    return delta;
  });
  // The quota's cache cannot tell whether a failed statement changed anything.
  const counted = <T>(run: () => T): T => {
    try {
      return run();
    } catch (err) {
      quota.forget(false);
      throw err;
    }
  };

  return {
    get: guarded(plugin, 'storage_get', (keyBytes: Uint8Array): ReadResult => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      return selectValue.get(plugin, key) ?? ABI.NOT_FOUND;
    }),
    set: guarded(plugin, 'storage_set', (keyBytes: Uint8Array, value: Uint8Array): number => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      const size = keyBytes.length + value.length;
      const delta = counted(() => write.immediate(key, asBuffer(value), size));
      if (delta === null) return ABI.QUOTA_EXCEEDED;
      if (delta === 'at most size') quota.storageAtMost(size);
      else quota.storageChanged(delta);
      return ABI.OK;
    }),
    delete: guarded(plugin, 'storage_delete', (keyBytes: Uint8Array): number => {
      const key = decodeKey(keyBytes);
      if (key === null) return ABI.INVALID_ARGUMENT;
      const freed = counted(() => remove.get(plugin, key));
      if (freed === undefined) return ABI.NOT_FOUND;
      quota.storageChanged(-freed);
      return ABI.OK;
    }),
  };
}
