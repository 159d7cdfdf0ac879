/**
 * Persistence of stats in `.bext/stats.db`, a file of their own: stats are easy to lose and plugin
 * storage is not, so damage to one never takes the other with it. Aggregates are stored twice: all-time per (plugin, hook) in stats_hook_totals, which is
 * what opening a recorder or reading without `--since` costs (one row per hook), and per time
 * bucket in stats_hook_buckets with their histograms encoded, so `--since` can sum just the recent
 * buckets. Buckets are one minute; minute buckets older than COMPACT_AFTER_MS are merged into hour
 * buckets so a `--since` read merges at most a few hundred rows per hook.
 * Every write merges into the existing row inside an IMMEDIATE transaction, so several processes
 * (a dev server, `bext plugin run`) can record into the same file.
 */
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import type { HookName } from '../config/types.js';
import { HookAggregate, isOutcome, PluginAggregate, reasonKey, refusalUrl, type AggregateRow } from './aggregate.js';
import type { LastFailure } from './types.js';
import path from 'node:path';
import { openSqlite } from '../host/state-db.js';

/** Where the stats of a `.bext/` folder live. */
export function statsDbPath(stateDir: string): string {
  return path.join(stateDir, 'stats.db');
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const COMPACT_AFTER_MS = 2 * HOUR_MS;

/** Columns of one aggregate row, shared by the per-bucket and the all-time tables. */
const AGGREGATE_COLUMNS = `  calls INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error INTEGER NOT NULL,
  out_of_fuel INTEGER NOT NULL,
  trap INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  crashed INTEGER NOT NULL,
  dropped INTEGER NOT NULL,
  budget INTEGER NOT NULL,
  fuel_sum REAL NOT NULL,
  fuel_min INTEGER,
  fuel_max INTEGER NOT NULL,
  fuel_max_pct REAL NOT NULL,
  fuel_hist TEXT NOT NULL,
  time_sum REAL NOT NULL,
  time_min INTEGER,
  time_max INTEGER NOT NULL,
  time_hist TEXT NOT NULL,
  first_at INTEGER,
  last_at INTEGER,`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS stats_hook_buckets (
  plugin TEXT NOT NULL,
  hook TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  span INTEGER NOT NULL,
${AGGREGATE_COLUMNS}
  PRIMARY KEY (plugin, hook, bucket)
);
CREATE TABLE IF NOT EXISTS stats_hook_totals (
  plugin TEXT NOT NULL,
  hook TEXT NOT NULL,
${AGGREGATE_COLUMNS}
  PRIMARY KEY (plugin, hook)
);
CREATE TABLE IF NOT EXISTS stats_fetch_refusals (
  plugin TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  url TEXT NOT NULL,
  reason_key TEXT NOT NULL,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (plugin, bucket, url, reason_key)
);
CREATE TABLE IF NOT EXISTS stats_last_failure (
  plugin TEXT NOT NULL,
  hook TEXT NOT NULL,
  outcome TEXT NOT NULL,
  message TEXT NOT NULL,
  trap_kind TEXT,
  at INTEGER NOT NULL,
  stack TEXT,
  PRIMARY KEY (plugin, hook)
);
CREATE TABLE IF NOT EXISTS stats_resets (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  plugin TEXT,
  at INTEGER NOT NULL
);
`;

const ROW_COLUMNS = [
  'calls', 'ok', 'error', 'out_of_fuel', 'trap', 'timeout', 'crashed', 'dropped', 'budget',
  'fuel_sum', 'fuel_min', 'fuel_max', 'fuel_max_pct', 'fuel_hist',
  'time_sum', 'time_min', 'time_max', 'time_hist', 'first_at', 'last_at',
] as const;

interface BucketRow extends AggregateRow {
  plugin: string;
  hook: string;
  bucket: number;
  span: number;
}

interface RefusedRow {
  plugin: string;
  bucket: number;
  url: string;
  reason: string;
  count: number;
  last_at: number;
}

interface FailureRow {
  plugin: string;
  hook: string;
  outcome: string;
  message: string;
  trap_kind: string | null;
  at: number;
  /** JSON array of frame lines (innermost first), as the call reported them. */
  stack: string | null;
}

/** A reset seen in the store: `plugin` null means every plugin. */
export interface ResetMark {
  seq: number;
  plugin: string | null;
}

export interface LoadOptions {
  /** Epoch ms: only buckets that end after it. */
  since?: number;
  plugin?: string;
}

export function bucketOf(at: number, span = MINUTE_MS): number {
  return Math.floor(at / span) * span;
}

export class StatsStore {
  readonly db: Database.Database;
  private readonly selectBucket: Database.Statement;
  private readonly upsertBucket: Database.Statement;
  private readonly upsertRefused: Database.Statement;
  private readonly selectTotal: Database.Statement;
  private readonly upsertTotal: Database.Statement;
  private readonly upsertFailure: Database.Statement;

  constructor(readonly dbPath: string) {
    this.db = openSqlite(dbPath, SCHEMA);
    this.selectBucket = this.db.prepare(
      'SELECT * FROM stats_hook_buckets WHERE plugin = ? AND hook = ? AND bucket = ?',
    );
    const cols = ROW_COLUMNS.join(', ');
    const params = ROW_COLUMNS.map((c) => `@${c}`).join(', ');
    const updates = ROW_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ');
    this.upsertBucket = this.db.prepare(
      `INSERT INTO stats_hook_buckets (plugin, hook, bucket, span, ${cols})
       VALUES (@plugin, @hook, @bucket, @span, ${params})
       ON CONFLICT (plugin, hook, bucket) DO UPDATE SET span = excluded.span, ${updates}`,
    );
    this.selectTotal = this.db.prepare('SELECT * FROM stats_hook_totals WHERE plugin = ? AND hook = ?');
    this.upsertTotal = this.db.prepare(
      `INSERT INTO stats_hook_totals (plugin, hook, ${cols}) VALUES (@plugin, @hook, ${params})
       ON CONFLICT (plugin, hook) DO UPDATE SET ${updates}`,
    );
    this.upsertFailure = this.db.prepare(
      `INSERT INTO stats_last_failure (plugin, hook, outcome, message, trap_kind, at, stack) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (plugin, hook) DO UPDATE SET outcome = excluded.outcome, message = excluded.message,
         trap_kind = excluded.trap_kind, at = excluded.at, stack = excluded.stack WHERE excluded.at >= at`,
    );
    this.upsertRefused = this.db.prepare(
      `INSERT INTO stats_fetch_refusals (plugin, bucket, url, reason_key, reason, count, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (plugin, bucket, url, reason_key)
       DO UPDATE SET count = count + excluded.count,
         reason = CASE WHEN excluded.last_at >= last_at THEN excluded.reason ELSE reason END,
         last_at = max(last_at, excluded.last_at)`,
    );
  }

  /** Merges `agg` into the stored bucket. Call inside `transaction()`. */
  addToBucket(plugin: string, hook: HookName, bucket: number, span: number, agg: HookAggregate): void {
    const existing = this.selectBucket.get(plugin, hook, bucket) as BucketRow | undefined;
    let merged = agg;
    if (existing) {
      merged = HookAggregate.fromRow(existing);
      merged.merge(agg);
    }
    this.upsertBucket.run({ plugin, hook, bucket, span: Math.max(span, existing?.span ?? 0), ...merged.toRow() });
  }

  /** Merges `agg` into the all-time row of (plugin, hook), and its last failure. Call inside `transaction()`. */
  addToTotal(plugin: string, hook: HookName, agg: HookAggregate): void {
    const f = agg.lastFailure;
    if (f) this.upsertFailure.run(plugin, hook, f.outcome, f.message, f.trapKind ?? null, f.at, f.stack ? JSON.stringify(f.stack) : null);
    const existing = this.selectTotal.get(plugin, hook) as AggregateRow | undefined;
    let merged = agg;
    if (existing) {
      merged = HookAggregate.fromRow(existing);
      merged.merge(agg);
    }
    this.upsertTotal.run({ plugin, hook, ...merged.toRow() });
  }

  addRefused(plugin: string, bucket: number, url: string, reason: string, count: number, lastAt: number): void {
    this.upsertRefused.run(plugin, bucket, refusalUrl(url), reasonKey(reason), reason, count, lastAt);
  }

  /** Runs `fn` in one IMMEDIATE transaction (takes the write lock up front, so merges never race). */
  transaction(fn: () => void): void {
    this.db.transaction(fn).immediate();
  }

  /** One aggregate per plugin: all-time totals, or the sum of the buckets since `opts.since`. */
  load(opts: LoadOptions = {}): Map<string, PluginAggregate> {
    const byPlugin = opts.plugin === undefined ? '' : 'plugin = ?';
    const pargs = opts.plugin === undefined ? [] : [opts.plugin];
    const whereOf = (...conds: string[]): string => {
      const all = conds.filter((c) => c !== '');
      return all.length ? `WHERE ${all.join(' AND ')}` : '';
    };
    const out = new Map<string, PluginAggregate>();
    const get = (p: string): PluginAggregate => {
      let a = out.get(p);
      if (!a) out.set(p, (a = new PluginAggregate()));
      return a;
    };
    if (opts.since === undefined) {
      const rows = this.db.prepare(`SELECT * FROM stats_hook_totals ${whereOf(byPlugin)}`).all(...pargs) as BucketRow[];
      for (const row of rows) get(row.plugin).hook(row.hook as HookName).merge(HookAggregate.fromRow(row));
    } else {
      const rows = this.db
        .prepare(`SELECT * FROM stats_hook_buckets ${whereOf(byPlugin, 'bucket + span > ?')}`)
        .all(...pargs, opts.since) as BucketRow[];
      for (const row of rows) get(row.plugin).hook(row.hook as HookName).merge(HookAggregate.fromRow(row));
    }
    const failures = this.db
      .prepare(`SELECT * FROM stats_last_failure ${whereOf(byPlugin, opts.since === undefined ? '' : 'at >= ?')}`)
      .all(...pargs, ...(opts.since === undefined ? [] : [opts.since])) as FailureRow[];
    for (const f of failures) {
      const agg = out.get(f.plugin)?.hooks.get(f.hook as HookName);
      if (!agg || f.outcome === 'ok' || !isOutcome(f.outcome)) continue;
      const lf: LastFailure = { outcome: f.outcome as LastFailure['outcome'], message: f.message, at: f.at };
      if (f.trap_kind !== null) lf.trapKind = f.trap_kind;
      if (f.stack !== null) lf.stack = JSON.parse(f.stack) as string[];
      agg.noteFailure(lf);
    }
    // Refused fetches have no histograms: SQL sums them. Their buckets are always minutes.
    const since = opts.since === undefined ? [] : [opts.since];
    const refused = this.db
      .prepare(
        // SQLite takes the bare column `reason` from the row holding max(last_at): the newest wording.
        `SELECT plugin, url, reason, sum(count) AS count, max(last_at) AS last_at FROM stats_fetch_refusals
         ${whereOf(byPlugin, opts.since === undefined ? '' : `bucket + ${MINUTE_MS} > ?`)} GROUP BY plugin, url, reason_key`,
      )
      .all(...pargs, ...since) as RefusedRow[];
    for (const r of refused) get(r.plugin).addRefused(r.url, r.reason, r.count, r.last_at);
    return out;
  }

  /** Names of plugins with stored data. */
  pluginNames(): string[] {
    const rows = this.db
      .prepare('SELECT plugin FROM stats_hook_totals UNION SELECT plugin FROM stats_fetch_refusals ORDER BY plugin')
      .all() as { plugin: string }[];
    return rows.map((r) => r.plugin);
  }

  /** Deletes one plugin's stats (or all) and leaves a mark running recorders notice. */
  reset(plugin: string | undefined, at: number): number {
    let deleted = 0;
    this.transaction(() => {
      const where = plugin === undefined ? '' : 'WHERE plugin = ?';
      const args = plugin === undefined ? [] : [plugin];
      deleted = this.db.prepare(`DELETE FROM stats_hook_buckets ${where}`).run(...args).changes;
      this.db.prepare(`DELETE FROM stats_hook_totals ${where}`).run(...args);
      this.db.prepare(`DELETE FROM stats_last_failure ${where}`).run(...args);
      this.db.prepare(`DELETE FROM stats_fetch_refusals ${where}`).run(...args);
      this.db.prepare('INSERT INTO stats_resets (plugin, at) VALUES (?, ?)').run(plugin ?? null, at);
    });
    return deleted;
  }

  lastResetSeq(): number {
    const row = this.db.prepare('SELECT max(seq) AS seq FROM stats_resets').get() as { seq: number | null };
    return row.seq ?? 0;
  }

  resetsAfter(seq: number): ResetMark[] {
    return this.db.prepare('SELECT seq, plugin FROM stats_resets WHERE seq > ? ORDER BY seq').all(seq) as ResetMark[];
  }

  /** Merges minute buckets older than COMPACT_AFTER_MS into hour buckets. */
  compact(now: number): void {
    const cutoff = bucketOf(now - COMPACT_AFTER_MS, HOUR_MS);
    this.transaction(() => {
      const rows = this.db
        .prepare('SELECT * FROM stats_hook_buckets WHERE span < ? AND bucket < ?')
        .all(HOUR_MS, cutoff) as BucketRow[];
      if (rows.length === 0) return;
      const groups = new Map<string, { plugin: string; hook: HookName; bucket: number; agg: HookAggregate }>();
      for (const row of rows) {
        const bucket = bucketOf(row.bucket, HOUR_MS);
        const key = `${row.plugin}\u0000${row.hook}\u0000${bucket}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { plugin: row.plugin, hook: row.hook as HookName, bucket, agg: new HookAggregate() }));
        g.agg.merge(HookAggregate.fromRow(row));
      }
      this.db.prepare('DELETE FROM stats_hook_buckets WHERE span < ? AND bucket < ?').run(HOUR_MS, cutoff);
      for (const g of groups.values()) this.addToBucket(g.plugin, g.hook, g.bucket, HOUR_MS, g.agg);
    });
  }

  close(): void {
    this.db.close();
  }
}

/** Tables that hold stats (before stats.db existed they lived in state.db). */
const STATS_TABLES = ['stats_hook_buckets', 'stats_hook_totals', 'stats_fetch_refusals', 'stats_last_failure', 'stats_resets'] as const;

/**
 * Moves the stats an older bext kept in state.db into a new stats.db (copy, then drop them from
 * state.db). Returns how many rows came over; 0 when there was nothing to move.
 */
export function moveLegacyStats(store: StatsStore, stateDbFile: string): number {
  if (!fs.existsSync(stateDbFile)) return 0;
  let rows = 0;
  store.db.prepare('ATTACH DATABASE ? AS legacy').run(stateDbFile);
  try {
    const present = new Set(
      (store.db.prepare("SELECT name FROM legacy.sqlite_master WHERE type = 'table'").pluck().all() as string[]),
    );
    const tables = STATS_TABLES.filter((t) => present.has(t));
    if (tables.length === 0) return 0;
    store.db.transaction(() => {
      for (const t of tables) {
        // By name: an older table may lack columns added since (they stay NULL).
        const cols = (store.db.prepare(`PRAGMA legacy.table_info(${t})`).all() as { name: string }[]).map((c) => c.name).join(', ');
        rows += store.db.prepare(`INSERT OR IGNORE INTO main.${t} (${cols}) SELECT ${cols} FROM legacy.${t}`).run().changes;
      }
      for (const t of tables) store.db.exec(`DROP TABLE legacy.${t}`);
    }).immediate();
  } finally {
    store.db.exec('DETACH DATABASE legacy');
  }
  return rows;
}

/** Opens the store only if the database file exists (read paths must not create `.bext/`). */
export function openExistingStore(dbPath: string): StatsStore | null {
  if (!fs.existsSync(dbPath)) return null;
  return new StatsStore(dbPath);
}
