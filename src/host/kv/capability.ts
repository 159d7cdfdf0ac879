/** `kv_get/set/delete`: namespaces shared by the plugins that list them in `kv_namespaces`. */
import { ABI } from '../../runtime/abi-codes.js';
import type { Capability } from '../../runtime/capability.js';
import { instanceQuota } from '../quota.js';
import { instanceStateDb } from '../state-db.js';
import { createKv, type SharedKv } from './store.js';

const I = 'i32' as const;

export const kv: Capability<SharedKv> = {
  name: 'kv',
  imports: [
    { name: 'kv_get', params: [I, I, I, I], results: ['i64'], returnsData: true, ranges: ['namespace', 'key'] },
    { name: 'kv_set', params: [I, I, I, I, I, I], results: [I], returnsData: false, ranges: ['namespace', 'key', 'value'] },
    { name: 'kv_delete', params: [I, I, I, I], results: [I], returnsData: false, ranges: ['namespace', 'key'] },
  ],
  codes: [ABI.NOT_FOUND, ABI.PERMISSION_DENIED, ABI.QUOTA_EXCEEDED, ABI.INVALID_ARGUMENT, ABI.TOO_LARGE, ABI.INTERNAL],
  prepareAtStart: true,
  prepare(ctx) {
    const db = instanceStateDb(ctx);
    const { kv_namespaces } = ctx.permissions;
    return createKv(db, ctx.plugin, kv_namespaces, instanceQuota(ctx));
  },
  implement: (io) => ({
    // Every range is checked before the namespace is judged, so a bad pointer always traps.
    kv_get(np: number, nl: number, kp: number, kl: number) {
      const ns = io.str('kv_get', 'namespace', np, nl);
      const key = io.bytes('kv_get', 'key', kp, kl);
      if (ns === null) return io.deliver('kv_get', ABI.INVALID_ARGUMENT);
      return io.deliver('kv_get', io.guarded('kv_get', () => io.state().get(ns, key)));
    },
    kv_set(np: number, nl: number, kp: number, kl: number, vp: number, vl: number): number {
      const ns = io.str('kv_set', 'namespace', np, nl);
      const key = io.bytes('kv_set', 'key', kp, kl);
      const value = io.bytes('kv_set', 'value', vp, vl);
      if (ns === null) return ABI.INVALID_ARGUMENT;
      return io.guarded('kv_set', () => io.state().set(ns, key, value));
    },
    kv_delete(np: number, nl: number, kp: number, kl: number): number {
      const ns = io.str('kv_delete', 'namespace', np, nl);
      const key = io.bytes('kv_delete', 'key', kp, kl);
      if (ns === null) return ABI.INVALID_ARGUMENT;
      return io.guarded('kv_delete', () => io.state().delete(ns, key));
    },
  }),
};
