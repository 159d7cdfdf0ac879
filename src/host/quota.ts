/**
 * Per-plugin storage quota: bytes of keys + values the plugin pays for (its storage, the shared
 * KV entries it last wrote, its unconsumed queue messages). Callers check inside the same write
 * transaction, so check and write are atomic.
 *
 * The shared part is kept exact by triggers (host_usage_shared, state-db.ts); the storage part is
 * the sum of the plugin's rows, held in memory. Both are trusted only while SQLite's data_version
 * says no other connection has committed since they were read; after such a commit (another
 * worker, `bext plugin storage --clear`) they are read again inside the transaction. A write
 * through this connection updates them itself: storage by the delta it reports, the shared part
 * by being read again.
 *
 * A storage write whose whole size fits in what is left needs no look at the row it replaces
 * (which can only make the change smaller): it is allowed at once and the storage figure becomes
 * an upper bound (fits, storageAtMost). That saves a statement per write well under the quota.
 * Every refusal is still exact: a write the bound cannot allow makes the figure exact again (the
 * rows summed once) and is checked with its exact change. Near the limit (less than an eighth of
 * it left) writes go the exact way, so the sum is not taken over and over.
 */
import type Database from 'better-sqlite3';
import type { CapabilityContext } from '../runtime/capability.js';
import { instanceStateDb, type StateDb } from './state-db.js';

export interface Quota {
  readonly limitBytes: number;
  /** Current usage in bytes. Call inside the write transaction. */
  usage(): number;
  /**
   * Whether a write that changes usage by `delta` bytes may go ahead. A write that does not grow
   * usage is always allowed, so a plugin over a lowered quota can still shrink or delete.
   */
  allows(delta: number): boolean;
  /**
   * Whether a storage write of `size` bytes (key + value) may go ahead whatever row it replaces:
   * usage + size fits, and the limit is not near. When false, check allows() with the exact change.
   */
  fits(size: number): boolean;
  /** This connection committed a change of `delta` bytes to the plugin's storage rows. */
  storageChanged(delta: number): void;
  /** This connection committed a storage write of `size` bytes allowed by fits() (a change of at most that). */
  storageAtMost(size: number): void;
  /**
   * This connection wrote shared KV or queues, or a write failed midway: forget what is cached
   * of that (`sharedOnly`) or of everything.
   */
  forget(sharedOnly: boolean): void;
}

export function createQuota(db: StateDb, plugin: string, quotaKb: number): Quota {
  const limitBytes = Math.max(0, Math.floor(quotaKb * 1024));
  const dataVersion: Database.Statement<[], number> = db.prepare<[], number>('PRAGMA data_version').pluck();
  const storageSum: Database.Statement<[string], number> = db
    .prepare<[string], number>('SELECT total(size) FROM host_storage WHERE plugin = ?')
    .pluck();
  const sharedBytes: Database.Statement<[string], number> = db
    .prepare<[string], number>('SELECT bytes FROM host_usage_shared WHERE plugin = ?')
    .pluck();
  // The data_version both figures below were read at (null: read them again).
  let version: number | null = null;
  let storage = 0;
  /** Whether `storage` is the exact sum (false: an upper bound, see storageAtMost). */
  let exact = true;
  let shared: number | null = null;

  const resum = (): void => {
    storage = storageSum.get(plugin) ?? 0;
    exact = true;
  };
  /** Usage, with storage as an upper bound when not `exact`. */
  const bound = (): number => {
    const v = dataVersion.get()!;
    if (v !== version) {
      resum();
      shared = null;
      version = v;
    }
    shared ??= sharedBytes.get(plugin) ?? 0;
    return storage + shared;
  };
  const usage = (): number => {
    const u = bound();
    if (exact) return u;
    resum();
    return storage + shared!;
  };
  return {
    limitBytes,
    usage,
    allows: (delta) => delta <= 0 || bound() + delta <= limitBytes || (!exact && usage() + delta <= limitBytes),
    // An upper bound only comes from here, and only while an exact figure left an eighth of the
    // limit free: near the limit a bound would soon need the rows summed again, write after write.
    fits: (size) => {
      const u = bound();
      return u + size <= limitBytes && (!exact || limitBytes - u >= limitBytes / 8);
    },
    storageChanged(delta) {
      storage += delta;
    },
    storageAtMost(size) {
      storage += size;
      exact = false;
    },
    forget(sharedOnly) {
      shared = null;
      if (!sharedOnly) version = null;
    },
  };
}

/**
 * The guest instance's one quota, shared by storage, KV and queues: each keeps the others' cached
 * usage right, since writes through the same connection do not move data_version.
 */
export function instanceQuota(ctx: CapabilityContext): Quota {
  return ctx.resource(
    'quota',
    () => createQuota(instanceStateDb(ctx), ctx.plugin, ctx.permissions.storage_quota_kb),
    () => {},
  );
}
