/** `storage_get/set/delete`: one key space per plugin in state.db, under the plugin's quota. */
import { ABI } from '../../runtime/abi-codes.js';
import type { Capability } from '../../runtime/capability.js';
import { instanceQuota } from '../quota.js';
import { instanceStateDb } from '../state-db.js';
import { createStorage, type PluginStorage } from './store.js';

const I = 'i32' as const;

export const storage: Capability<PluginStorage> = {
  name: 'storage',
  imports: [
    { name: 'storage_get', params: [I, I], results: ['i64'], returnsData: true, ranges: ['key'] },
    { name: 'storage_set', params: [I, I, I, I], results: [I], returnsData: false, ranges: ['key', 'value'] },
    { name: 'storage_delete', params: [I, I], results: [I], returnsData: false, ranges: ['key'] },
  ],
  codes: [ABI.NOT_FOUND, ABI.QUOTA_EXCEEDED, ABI.INVALID_ARGUMENT, ABI.TOO_LARGE, ABI.INTERNAL],
  prepareAtStart: true,
  prepare(ctx) {
    const db = instanceStateDb(ctx);
    return createStorage(db, ctx.plugin, instanceQuota(ctx));
  },
  implement: (io) => ({
    storage_get(kp: number, kl: number) {
      const key = io.bytes('storage_get', 'key', kp, kl);
      return io.deliver('storage_get', io.guarded('storage_get', () => io.state().get(key)));
    },
    storage_set(kp: number, kl: number, vp: number, vl: number): number {
      const key = io.bytes('storage_set', 'key', kp, kl);
      const value = io.bytes('storage_set', 'value', vp, vl);
      return io.guarded('storage_set', () => io.state().set(key, value));
    },
    storage_delete(kp: number, kl: number): number {
      const key = io.bytes('storage_delete', 'key', kp, kl);
      return io.guarded('storage_delete', () => io.state().delete(key));
    },
  }),
};
