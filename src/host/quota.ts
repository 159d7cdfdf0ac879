/**
 * Per-plugin storage quota: bytes of keys + values the plugin pays for (its storage, the shared
 * KV entries it last wrote, its unconsumed queue messages). Usage is kept exact by triggers
 * (state-db.ts); callers check inside the same write transaction, so check and write are atomic.
 */
import type { StateDb } from './state-db.js';
import type Database from 'better-sqlite3';

export interface Quota {
  readonly limitBytes: number;
  /** Current usage in bytes. Call inside the write transaction. */
  usage(): number;
  /**
   * Whether a write that changes usage by `delta` bytes may go ahead. A write that does not grow
   * usage is always allowed, so a plugin over a lowered quota can still shrink or delete.
   */
  allows(delta: number): boolean;
}

export function createQuota(db: StateDb, plugin: string, quotaKb: number): Quota {
  const limitBytes = Math.max(0, Math.floor(quotaKb * 1024));
  const select: Database.Statement<[string], number> = db
    .prepare<[string], number>('SELECT bytes FROM host_usage WHERE plugin = ?')
    .pluck();
  const usage = (): number => select.get(plugin) ?? 0;
  return {
    limitBytes,
    usage,
    allows: (delta) => delta <= 0 || usage() + delta <= limitBytes,
  };
}
