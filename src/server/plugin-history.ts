/**
 * What the dashboard knows about each plugin beyond its config: which version is running (module
 * hash + budgets, and when it was loaded), whether the last reload failed while the old version
 * kept serving, per-hook figures of the running version (a new version starts from zero; the
 * previous ones are kept, marked, so a lowered budget never mixes with calls made under the old
 * one), calls per minute over the last hour, and the most recent failed calls with their input
 * size and guest stack. Memory only: it describes this server's run, the persisted stats
 * (src/stats) keep the all-time figures.
 */
import type { HookName } from '../config/types.js';
import { eventLog, slotOf } from '../runtime/event-log.js';
import type { CallResult, CallTally, QueuedCall } from '../runtime/types.js';
import { HookAggregate, hookOrder } from '../stats/aggregate.js';
import type { HookStats } from '../stats/types.js';
import type { LanguageGuess } from '../wasm/index.js';

/** Failed calls kept for the failures list. */
export const MAX_FAILURES = 50;
/** Earlier versions kept per plugin (with their figures). */
const MAX_PREVIOUS = 3;
const MINUTE_MS = 60_000;
const TIMELINE_MINUTES = 60;
const MAX_STACK_FRAMES = 32;

export interface PluginVersion {
  /** Counts loads of this plugin in this run (1 = the first). */
  seq: number;
  /** First 12 hex digits of the module's SHA-256. */
  hash: string;
  budgets: Record<HookName, number>;
  loadedAt: number;
  language: LanguageGuess;
}

export interface FailureRecord {
  at: number;
  plugin: string;
  hook: HookName;
  /** Hash of the version that ran the call. */
  version: string;
  outcome: CallResult['outcome'];
  message: string;
  trapKind?: string;
  stack: string[];
  /** Bytes of the hook's input (event JSON, key + tags, pattern...). */
  inputBytes: number;
  fuelUsed: number;
  budget: number;
  wallUs: number;
}

export interface VersionFiguresView {
  version: PluginVersion;
  /** Set on previous versions: when the next one replaced it. */
  replacedAt: number | null;
  /** What differs from the version after it, e.g. "module changed", "budgets changed: on_request_complete". */
  change: string | null;
  hooks: HookStats[];
}

export interface PluginHistoryView {
  current: VersionFiguresView | null;
  previous: VersionFiguresView[];
  /** The last reload failed and this version kept serving (cleared by the next successful load). */
  staleSince: { at: number; error: string } | null;
  /** Calls per minute over the last hour, oldest first (60 numbers), per hook with calls. */
  timeline: Partial<Record<HookName, number[]>>;
}

interface VersionFigures {
  version: PluginVersion;
  replacedAt: number | null;
  change: string | null;
  hooks: Map<HookName, HookAggregate>;
}

interface PluginRecord {
  loads: number;
  current: VersionFigures | null;
  previous: VersionFigures[];
  stale: { at: number; error: string } | null;
  /** hook → minute number → calls. */
  minutes: Map<HookName, Map<number, number>>;
}

/** What a history reports as it changes (for the live event stream). */
export interface HistoryListener {
  onLoad?(plugin: string, version: PluginVersion, previous: PluginVersion | null): void;
  onLoadFailed?(plugin: string, error: string, stillServing: PluginVersion | null): void;
  onCall?(result: CallResult, version: PluginVersion): void;
  /** Calls that ended ok, reported together (see CallTally). */
  onTally?(tally: CallTally, version: PluginVersion): void;
  onFailure?(failure: FailureRecord): void;
}

function sameBudgets(a: Record<HookName, number>, b: Record<HookName, number>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describeChange(prev: PluginVersion, next: PluginVersion): string {
  const parts: string[] = [];
  if (prev.hash !== next.hash) parts.push('module changed');
  const budgets = (Object.keys(next.budgets) as HookName[]).filter((h) => prev.budgets[h] !== next.budgets[h]);
  if (budgets.length) parts.push(`budgets changed: ${budgets.join(', ')}`);
  return parts.join('; ') || 'reloaded';
}

function viewOf(f: VersionFigures): VersionFiguresView {
  const hooks = [...f.hooks.entries()]
    .filter(([, a]) => !a.isEmpty())
    .sort(([a], [b]) => hookOrder(a, b))
    .map(([h, a]) => a.toStats(h));
  return { version: { ...f.version }, replacedAt: f.replacedAt, change: f.change, hooks };
}

/** Bytes of a hook's input as the guest receives it. */
export function inputBytes(args: QueuedCall): number {
  // An event in the log: the JSON the worker made of it.
  if (typeof args === 'number') return eventLog().json(slotOf(args)).length;
  switch (args.hook) {
    case 'on_request_complete':
      return Buffer.byteLength(args.eventJson);
    case 'on_server_start':
      return Buffer.byteLength(args.configJson);
    case 'on_cache_write':
      return Buffer.byteLength(args.key) + Buffer.byteLength(args.tagsJson);
    case 'on_cache_invalidate':
      return Buffer.byteLength(args.pattern);
    default:
      return 0;
  }
}

export class PluginHistory {
  private readonly plugins = new Map<string, PluginRecord>();
  private failures: FailureRecord[] = [];

  constructor(
    private readonly listener: HistoryListener = {},
    private readonly now: () => number = Date.now,
  ) {}

  private record(name: string): PluginRecord {
    let r = this.plugins.get(name);
    if (!r) this.plugins.set(name, (r = { loads: 0, current: null, previous: [], stale: null, minutes: new Map() }));
    return r;
  }

  /**
   * A version of `name` was loaded. The same module with the same budgets continues the running
   * figures (a reload that changed nothing that matters for them); anything else starts anew.
   */
  loaded(name: string, hash: string, budgets: Record<HookName, number>, language: LanguageGuess): PluginVersion {
    const r = this.record(name);
    r.loads += 1;
    r.stale = null;
    const at = this.now();
    const cur = r.current;
    if (cur && cur.version.hash === hash && sameBudgets(cur.version.budgets, budgets)) {
      this.listener.onLoad?.(name, cur.version, cur.version);
      return cur.version;
    }
    const version: PluginVersion = { seq: r.loads, hash, budgets: { ...budgets }, loadedAt: at, language };
    if (cur) {
      cur.replacedAt = at;
      cur.change = describeChange(cur.version, version);
      if ([...cur.hooks.values()].some((a) => !a.isEmpty())) r.previous.unshift(cur);
      r.previous.length = Math.min(r.previous.length, MAX_PREVIOUS);
    }
    r.current = { version, replacedAt: null, change: null, hooks: new Map() };
    this.listener.onLoad?.(name, version, cur?.version ?? null);
    return version;
  }

  /** A load of `name` failed; when a version is running it keeps serving, now stale. */
  loadFailed(name: string, error: string): void {
    const r = this.record(name);
    const serving = r.current?.version ?? null;
    r.stale = serving ? { at: this.now(), error } : null;
    this.listener.onLoadFailed?.(name, error, serving);
  }

  /** The instance was closed for good (plugin removed, disabled, or failed after loading). */
  unloaded(name: string): void {
    const r = this.plugins.get(name);
    if (r) r.stale = null;
  }

  /**
   * The figures of `hook` for the version that made a call (created on first use), or undefined
   * when that version's figures are gone. Figures belong to the version that made the call, even
   * when a newer one was loaded meanwhile.
   */
  private hookFigures(r: PluginRecord, version: PluginVersion, hook: HookName): HookAggregate | undefined {
    const figures = r.current?.version === version ? r.current : r.previous.find((p) => p.version === version);
    if (!figures) return undefined;
    let agg = figures.hooks.get(hook);
    if (!agg) figures.hooks.set(hook, (agg = new HookAggregate()));
    return agg;
  }

  /** Counts a call against the version that made it; `args` (its input) is measured only for a failure. */
  call(result: CallResult, version: PluginVersion, args: QueuedCall): void {
    if (result.skipped) return;
    const r = this.record(result.plugin);
    const at = this.now();
    this.hookFigures(r, version, result.hook)?.record(result, at);
    this.countMinute(r, result.hook, at);
    this.listener.onCall?.(result, version);
    if (result.outcome === 'ok') return;
    const failure: FailureRecord = {
      at,
      plugin: result.plugin,
      hook: result.hook,
      version: version.hash,
      outcome: result.outcome,
      message: (result.message ?? '').slice(0, 2000),
      stack: (result.stack ?? []).slice(0, MAX_STACK_FRAMES),
      inputBytes: inputBytes(args),
      fuelUsed: result.fuelUsed,
      budget: result.budget,
      wallUs: result.wallUs,
    };
    if (result.trapKind !== undefined) failure.trapKind = result.trapKind;
    this.failures.unshift(failure);
    if (this.failures.length > MAX_FAILURES) this.failures.length = MAX_FAILURES;
    this.listener.onFailure?.(failure);
  }

  /** Counts calls that ended ok, reported together, against the version that made them. */
  tally(t: CallTally, version: PluginVersion): void {
    if (t.count === 0) return;
    const r = this.record(t.plugin);
    const at = this.now();
    this.hookFigures(r, version, t.hook)?.recordTally(t, at);
    this.countMinute(r, t.hook, at, t.count);
    this.listener.onTally?.(t, version);
  }

  private countMinute(r: PluginRecord, hook: HookName, at: number, n = 1): void {
    const minute = Math.floor(at / MINUTE_MS);
    let m = r.minutes.get(hook);
    if (!m) r.minutes.set(hook, (m = new Map()));
    m.set(minute, (m.get(minute) ?? 0) + n);
    if (m.size > TIMELINE_MINUTES + 1) {
      for (const k of m.keys()) if (k <= minute - TIMELINE_MINUTES) m.delete(k);
    }
  }

  /** Clears figures, timelines and failures of one plugin, or all; versions stay. */
  reset(plugin?: string): void {
    for (const [name, r] of this.plugins) {
      if (plugin !== undefined && name !== plugin) continue;
      if (r.current) r.current.hooks = new Map();
      r.previous = [];
      r.minutes = new Map();
    }
    this.failures = plugin === undefined ? [] : this.failures.filter((f) => f.plugin !== plugin);
  }

  view(name: string): PluginHistoryView {
    const r = this.plugins.get(name);
    if (!r) return { current: null, previous: [], staleSince: null, timeline: {} };
    const nowMinute = Math.floor(this.now() / MINUTE_MS);
    const timeline: Partial<Record<HookName, number[]>> = {};
    for (const [hook, m] of r.minutes) {
      const counts: number[] = [];
      for (let k = nowMinute - TIMELINE_MINUTES + 1; k <= nowMinute; k++) counts.push(m.get(k) ?? 0);
      if (counts.some((n) => n > 0)) timeline[hook] = counts;
    }
    return {
      current: r.current ? viewOf(r.current) : null,
      previous: r.previous.map(viewOf),
      staleSince: r.stale ? { ...r.stale } : null,
      timeline,
    };
  }

  /** The most recent failed calls, newest first. */
  recentFailures(limit = MAX_FAILURES, plugin?: string): FailureRecord[] {
    const list = plugin === undefined ? this.failures : this.failures.filter((f) => f.plugin === plugin);
    return list.slice(0, limit).map((f) => ({ ...f, stack: [...f.stack] }));
  }
}
