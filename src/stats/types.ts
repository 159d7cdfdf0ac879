/**
 * The JSON shape of stats, shared by the recorder (`snapshot()`), the admin API
 * (`GET /__bext/stats[/NAME]`) and `bext plugin stats --json`. Plain data only, so it survives
 * JSON round trips unchanged. Fuel is in wasmtime fuel units, times in microseconds.
 */
import type { HookName } from '../config/types.js';
import type { CallResult, CallTally, Outcome } from '../runtime/types.js';
import type { Shedding } from '../plugins/hook-queue.js';

export const STATS_SNAPSHOT_VERSION = 1;

export type OutcomeCounts = Record<Outcome, number>;

/** avg/p50/p99/max of one quantity. Percentiles come from an HDR histogram (3 significant digits). */
export interface Distribution {
  total: number;
  min: number;
  avg: number;
  p50: number;
  p99: number;
  max: number;
}

export interface FuelDistribution extends Distribution {
  /** Budget of the most recent call. */
  budget: number;
  /** Highest fuelUsed / budget seen over the calls, in percent (0–100). */
  maxPctOfBudget: number;
}

/** The most recent failed call of a hook: what a developer wants to see next to the counts. */
export interface LastFailure {
  outcome: Exclude<Outcome, 'ok'>;
  /** Guest error string, trap message, or timeout/crash reason (at most 500 characters). */
  message: string;
  trapKind?: string;
  at: number;
  /** The failing call's guest frames, innermost first (name @ offset in the user's module, source position), at most 8. */
  stack?: string[];
}

export interface HookStats {
  hook: HookName;
  /** Calls that ran (skipped hooks, i.e. ones the module does not export, are not counted). */
  calls: number;
  outcomes: OutcomeCounts;
  /** Events dropped from this plugin's queue before they reached this hook. */
  dropped: number;
  fuel: FuelDistribution;
  timeUs: Distribution;
  /** Null when every call succeeded (in the scoped period). */
  lastFailure: LastFailure | null;
  /** Epoch milliseconds of the first and last recorded call (null with only dropped events). */
  firstAt: number | null;
  lastAt: number | null;
}

export interface RefusedFetch {
  url: string;
  reason: string;
  count: number;
  lastAt: number;
}

export interface PluginStats {
  plugin: string;
  calls: number;
  outcomes: OutcomeCounts;
  dropped: number;
  fetchRefused: {
    count: number;
    /** Most frequent (url, reason) pairs, at most 10, most frequent first. */
    top: RefusedFetch[];
  };
  /** One entry per hook with any data, in HOOK_NAMES order. */
  hooks: HookStats[];
  /**
   * The last spell in which this plugin's queue dropped events (it was slower than the traffic),
   * with the rates; live stats only, absent when it never happened.
   */
  shedding?: QueueShedding;
}

/** A spell of dropped events: from the first drop until the plugin's queue ran empty again. */
export type QueueShedding = Shedding;

export interface StatsSnapshot {
  version: typeof STATS_SNAPSHOT_VERSION;
  /** 'live' from a running recorder, 'persisted' read from `.bext/stats.db` alone. */
  source: 'live' | 'persisted';
  generatedAt: string;
  /** ISO time the data is scoped to (calls at or after it, minute resolution), or null for all time. */
  since: string | null;
  /** Keyed by plugin name; a plugin appears once anything was recorded for it. */
  plugins: Record<string, PluginStats>;
}

export interface SnapshotOptions {
  /** Epoch ms; only data from buckets ending after it. Reads the persisted store (after a flush). */
  since?: number;
}

export interface OpenStatsOptions {
  /** Path of `.bext/stats.db` (created with its folder when missing). */
  dbPath: string;
  /** How often pending aggregates are written to the store. Default 5000; 0 disables the timer. */
  flushIntervalMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export interface StatsRecorder {
  /** Counts one hook call. Skipped results (hook not exported) are ignored. */
  record(result: CallResult): void;
  /** Counts calls that ended ok, reported together (the same figures as record() of each). */
  recordTally(tally: CallTally): void;
  /** Counts events dropped from a plugin's bounded queue (oldest dropped on overflow). */
  recordDropped(plugin: string, hook: HookName, n?: number): void;
  /** A plugin's queue started dropping events, or caught up again (live only, not persisted). */
  recordShedding(plugin: string, s: QueueShedding): void;
  /** Counts an http_fetch refused by permissions, rate limit or network policy. */
  recordFetchRefused(plugin: string, url: string, reason: string): void;
  /** All plugins, or just `plugin` (then `plugins` has at most that key). */
  snapshot(plugin?: string, opts?: SnapshotOptions): StatsSnapshot;
  /** Names of plugins with any recorded data. */
  plugins(): string[];
  /** Clears memory and persisted stats of one plugin, or all. */
  reset(plugin?: string): void;
  /** Writes pending aggregates to the store now. */
  flush(): void;
  /**
   * Does now what the first read would (loading the histogram code, decoding the stored totals),
   * so that read answers at once: the dev server calls it when start-up has finished.
   */
  warm(): void;
  /** Flushes and closes the database; later calls to record() are ignored. */
  close(): void;
}
