/**
 * The live stats recorder the dev server feeds with every CallResult. It keeps two things in
 * memory: all-time totals per (plugin, hook) (loaded from the store at open, so figures continue
 * across restarts) and the not-yet-written deltas per minute bucket, which flush() merges into
 * the store. A reset done by another process (`bext plugin stats --reset`) is noticed at the next
 * snapshot or flush through the store's reset marks.
 */
import type { HookName } from '../config/types.js';
import type { CallResult, CallTally } from '../runtime/types.js';
import { logger } from '../log.js';
import { HookAggregate, loadHistogramCode, PluginAggregate, reasonKey } from './aggregate.js';
import { toSnapshot } from './snapshot.js';
import { bucketOf, MINUTE_MS, StatsStore } from './store.js';
import type { OpenStatsOptions, QueueShedding, SnapshotOptions, StatsRecorder, StatsSnapshot } from './types.js';

const DEFAULT_FLUSH_MS = 5000;
/** Compaction is cheap but not free; once per hour is plenty. */
const COMPACT_EVERY_MS = 3_600_000;

interface PendingHook {
  plugin: string;
  hook: HookName;
  bucket: number;
  /** Its key in pendingHooks. */
  key: string;
  agg: HookAggregate;
}

interface PendingRefused {
  plugin: string;
  bucket: number;
  url: string;
  reason: string;
  count: number;
  lastAt: number;
}

class Recorder implements StatsRecorder {
  private readonly store: StatsStore;
  private readonly now: () => number;
  private totals = new Map<string, PluginAggregate>();
  private pendingHooks = new Map<string, PendingHook>();
  private lastPending: PendingHook | null = null;
  private pendingRefused = new Map<string, PendingRefused>();
  private resetSeq: number;
  private timer: NodeJS.Timeout | null = null;
  private lastCompact = 0;
  private closed = false;

  constructor(opts: OpenStatsOptions) {
    this.now = opts.now ?? Date.now;
    this.store = new StatsStore(opts.dbPath);
    this.resetSeq = this.store.lastResetSeq();
    this.totals = this.store.load();
    const every = opts.flushIntervalMs ?? DEFAULT_FLUSH_MS;
    if (every > 0) {
      this.timer = setInterval(() => this.safeFlush(), every);
      // Stats must never keep the process alive on their own.
      this.timer.unref();
    }
  }

  private plugin(name: string): PluginAggregate {
    let a = this.totals.get(name);
    if (!a) this.totals.set(name, (a = new PluginAggregate()));
    return a;
  }

  private pendingHook(plugin: string, hook: HookName, at: number): HookAggregate {
    const bucket = bucketOf(at);
    // Calls come in runs from one plugin and hook (a batch): the row of the last call is reused
    // without building its key, while it is still the pending row for that key.
    const last = this.lastPending;
    if (last !== null && last.plugin === plugin && last.hook === hook && last.bucket === bucket && this.pendingHooks.get(last.key) === last) {
      return last.agg;
    }
    const key = `${plugin}\u0000${hook}\u0000${bucket}`;
    let p = this.pendingHooks.get(key);
    if (!p) this.pendingHooks.set(key, (p = { plugin, hook, bucket, key, agg: new HookAggregate() }));
    this.lastPending = p;
    return p.agg;
  }

  record(result: CallResult): void {
    if (this.closed || result.skipped) return;
    const at = this.now();
    this.plugin(result.plugin).hook(result.hook).record(result, at);
    this.pendingHook(result.plugin, result.hook, at).record(result, at);
  }

  recordTally(tally: CallTally): void {
    if (this.closed || tally.count === 0) return;
    const at = this.now();
    this.plugin(tally.plugin).hook(tally.hook).recordTally(tally, at);
    this.pendingHook(tally.plugin, tally.hook, at).recordTally(tally, at);
  }

  recordDropped(plugin: string, hook: HookName, n = 1): void {
    if (this.closed || !(n > 0)) return;
    const at = this.now();
    this.plugin(plugin).hook(hook).dropped += n;
    this.pendingHook(plugin, hook, at).dropped += n;
  }

  recordShedding(plugin: string, s: QueueShedding): void {
    if (this.closed) return;
    this.plugin(plugin).shedding = { ...s };
  }

  recordFetchRefused(plugin: string, url: string, reason: string): void {
    if (this.closed) return;
    const at = this.now();
    // The aggregate decides the entry (a bounded number per plugin); the pending rows follow it.
    const kept = this.plugin(plugin).addRefused(url, reason, 1, at);
    const bucket = bucketOf(at);
    const key = `${plugin}\u0000${bucket}\u0000${kept.url}\u0000${reasonKey(kept.reason)}`;
    const p = this.pendingRefused.get(key);
    if (p) {
      p.count += 1;
      p.lastAt = at;
      p.reason = kept.reason;
    } else {
      this.pendingRefused.set(key, { plugin, bucket, url: kept.url, reason: kept.reason, count: 1, lastAt: at });
    }
  }

  /** Applies resets made by other processes since we last looked. */
  private syncResets(): void {
    const marks = this.store.resetsAfter(this.resetSeq);
    for (const m of marks) {
      this.dropMemory(m.plugin ?? undefined);
      this.resetSeq = m.seq;
    }
  }

  private dropMemory(plugin: string | undefined): void {
    if (plugin === undefined) {
      this.totals.clear();
      this.pendingHooks.clear();
      this.pendingRefused.clear();
      return;
    }
    this.totals.delete(plugin);
    for (const [k, p] of this.pendingHooks) if (p.plugin === plugin) this.pendingHooks.delete(k);
    for (const [k, p] of this.pendingRefused) if (p.plugin === plugin) this.pendingRefused.delete(k);
  }

  snapshot(plugin?: string, opts: SnapshotOptions = {}): StatsSnapshot {
    if (this.closed) return toSnapshot(new Map(), 'live', this.now(), opts.since ?? null, plugin);
    this.syncResets();
    if (opts.since !== undefined) {
      // Time-scoped views come from the buckets; write ours first so they include everything.
      this.flush();
      return toSnapshot(this.store.load({ since: opts.since, plugin }), 'live', this.now(), opts.since, plugin);
    }
    return toSnapshot(this.totals, 'live', this.now(), null, plugin);
  }

  plugins(): string[] {
    if (!this.closed) this.syncResets();
    return [...this.totals.keys()].filter((p) => !this.totals.get(p)!.isEmpty()).sort();
  }

  reset(plugin?: string): void {
    if (this.closed) return;
    this.syncResets();
    this.dropMemory(plugin);
    this.store.reset(plugin, this.now());
    this.resetSeq = this.store.lastResetSeq();
  }

  flush(): void {
    if (this.closed) return;
    this.syncResets();
    if (this.pendingHooks.size > 0 || this.pendingRefused.size > 0) {
      const hooks = [...this.pendingHooks.values()];
      const refused = [...this.pendingRefused.values()];
      this.store.transaction(() => {
        for (const p of hooks) this.store.addToBucket(p.plugin, p.hook, p.bucket, MINUTE_MS, p.agg);
        // Several minute buckets of one hook become one merge into its all-time row.
        const totals = new Map<string, PendingHook>();
        for (const p of hooks) {
          const key = `${p.plugin}\u0000${p.hook}`;
          const t = totals.get(key);
          if (t) t.agg.merge(p.agg);
          else {
            const agg = new HookAggregate();
            agg.merge(p.agg);
            totals.set(key, { ...p, agg });
          }
        }
        for (const t of totals.values()) this.store.addToTotal(t.plugin, t.hook, t.agg);
        for (const r of refused) this.store.addRefused(r.plugin, r.bucket, r.url, r.reason, r.count, r.lastAt);
      });
      // Cleared only after the transaction committed: a failed write is retried at the next flush.
      this.pendingHooks.clear();
      this.pendingRefused.clear();
    }
    const now = this.now();
    if (now - this.lastCompact >= COMPACT_EVERY_MS) {
      this.lastCompact = now;
      this.store.compact(now);
    }
  }

  private safeFlush(): void {
    try {
      this.flush();
    } catch (err) {
      // A busy or broken database must not take the server down; the deltas stay pending.
      logger().warn({ err: (err as Error).message }, 'stats: could not write to the state database; will retry');
    }
  }

  warm(): void {
    if (this.closed) return;
    loadHistogramCode();
    for (const p of this.totals.values()) for (const h of p.hooks.values()) h.warm();
    for (const p of this.pendingHooks.values()) p.agg.warm();
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.store.close();
    }
  }
}

export function openStats(opts: OpenStatsOptions): StatsRecorder {
  return new Recorder(opts);
}
