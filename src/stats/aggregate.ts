/**
 * In-memory aggregate of the calls of one (plugin, hook): exact counts, sums, min and max, plus
 * HDR histograms for percentiles, so memory stays constant however many calls happen.
 * Aggregates merge (for time buckets and for totals) and encode to a row for SQLite.
 */
import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';
import type * as HdrModule from 'hdr-histogram-js';
import { HOOK_NAMES, type HookName } from '../config/types.js';
import { wholeValue } from '../runtime/tally.js';
import { OUTCOMES, type CallResult, type CallTally, type Outcome, type ValueCounts } from '../runtime/types.js';
import type { Distribution, FuelDistribution, HookStats, LastFailure, OutcomeCounts, QueueShedding } from './types.js';

const MAX_MESSAGE = 500;
/** Frames kept with the last failure (the innermost ones say where it happened). */
const MAX_FRAMES = 8;

/** 3 significant digits: a reported percentile is within 0.1% of a recorded value. */
const SIGNIFICANT_DIGITS = 3;

/**
 * 32-bit counters: a bucket overflows only past 2^31 calls of nearly the same cost. 'packed'
 * would use less memory (~1 KB instead of ~25 KB) but decodes and merges about 20× slower,
 * and merging is what reading the store does. autoResize covers any fuel budget a user sets.
 */
const BUCKET_BITS = 32;

// hdr-histogram-js takes a while to load (it inflates its WebAssembly build): it loads with the
// first histogram built (see Quantity), after the server answers its first request, not at start-up.
const load = createRequire(import.meta.url);
let hdrModule: typeof HdrModule | null = null;
const hdr = (): typeof HdrModule => (hdrModule ??= load('hdr-histogram-js') as typeof HdrModule);

/** Loads hdr-histogram-js now rather than with the first histogram built. */
export function loadHistogramCode(): void {
  hdr();
}

function newHistogram(): Histogram {
  return hdr().build({ bitBucketSize: BUCKET_BITS, numberOfSignificantValueDigits: SIGNIFICANT_DIGITS, autoResize: true });
}

export function emptyOutcomes(): OutcomeCounts {
  return { ok: 0, error: 0, out_of_fuel: 0, trap: 0, timeout: 0, crashed: 0 };
}

/** Histogram values must be non-negative integers (a tally's value counts are made the same way). */
const histValue = wholeValue;

/**
 * Values recorded before a quantity builds its histogram. Loading hdr-histogram-js and decoding
 * persisted histograms is most of what opening stats costs, so a quantity keeps its persisted
 * histogram encoded, and the first values recorded in a plain list, until something reads
 * percentiles or writes it back: the dev server answers its first request without either.
 */
const PENDING_MAX = 256;

/** Running totals of one quantity. */
class Quantity {
  total = 0;
  min = Infinity;
  max = 0;
  /** The histogram once built; until then `encoded` (a persisted one) plus `pending` stand for it. */
  private built: Histogram | null = null;
  private encoded: string | null = null;
  private pending: number[] = [];

  get hist(): Histogram {
    if (this.built === null) {
      const h = this.encoded !== null ? decode(this.encoded) : newHistogram();
      for (const v of this.pending) h.recordValue(v);
      this.built = h;
      this.encoded = null;
      this.pending = [];
    }
    return this.built;
  }

  /** A persisted histogram (base64 as stored), decoded when first needed. */
  setEncoded(b64: string): void {
    this.built = null;
    this.encoded = b64;
    this.pending = [];
  }

  /** The histogram as stored; an unchanged persisted one is written back as it was read. */
  encode(): string {
    if (this.built === null && this.pending.length === 0 && this.encoded !== null) return this.encoded;
    return hdr().encodeIntoCompressedBase64(this.hist);
  }

  private isEmpty(): boolean {
    return this.built === null ? this.encoded === null && this.pending.length === 0 : this.built.totalCount === 0;
  }

  add(v: number): void {
    const x = histValue(v);
    this.total += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (this.built !== null) this.built.recordValue(x);
    else if (this.pending.push(x) >= PENDING_MAX) void this.hist;
  }

  /** Records many values at once: the same as add() for each value, `count` times. */
  addCounts(g: ValueCounts): void {
    if (g.values.length === 0) return;
    this.total += g.total;
    if (g.min < this.min) this.min = g.min;
    if (g.max > this.max) this.max = g.max;
    if (this.built === null) {
      let n = 0;
      for (const c of g.counts) n += c;
      if (this.pending.length + n < PENDING_MAX) {
        for (let i = 0; i < g.values.length; i++) for (let c = g.counts[i]!; c > 0; c--) this.pending.push(g.values[i]!);
        return;
      }
    }
    const h = this.hist;
    for (let i = 0; i < g.values.length; i++) h.recordValueWithCount(g.values[i]!, g.counts[i]!);
  }

  merge(o: Quantity): void {
    this.total += o.total;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
    if (o.isEmpty()) return;
    if (this.built === null && o.built === null && this.encoded === null) {
      // Nothing to decode on this side: take the other's encoded form and values as they are.
      if (this.pending.length + o.pending.length <= PENDING_MAX) {
        if (o.encoded !== null && this.pending.length === 0) {
          this.encoded = o.encoded;
          this.pending = [...o.pending];
          return;
        }
        if (o.encoded === null) {
          for (const v of o.pending) this.pending.push(v);
          return;
        }
      }
    }
    this.hist.add(o.hist);
  }

  /**
   * Percentiles are clamped into [min, max], which are exact: an HDR histogram reports the top of
   * a value's bucket, so a workload where every call costs exactly N would otherwise show p50 ≠ N.
   */
  distribution(count: number): Distribution {
    if (count === 0) return { total: 0, min: 0, avg: 0, p50: 0, p99: 0, max: 0 };
    const clamp = (v: number): number => Math.min(Math.max(v, this.min), this.max);
    return {
      total: this.total,
      min: this.min,
      avg: this.total / count,
      p50: clamp(this.hist.getValueAtPercentile(50)),
      p99: clamp(this.hist.getValueAtPercentile(99)),
      max: this.max,
    };
  }
}

/** The columns of one persisted bucket row (see store.ts). */
export interface AggregateRow {
  calls: number;
  ok: number;
  error: number;
  out_of_fuel: number;
  trap: number;
  timeout: number;
  crashed: number;
  dropped: number;
  budget: number;
  fuel_sum: number;
  fuel_min: number | null;
  fuel_max: number;
  fuel_max_pct: number;
  fuel_hist: string;
  time_sum: number;
  time_min: number | null;
  time_max: number;
  time_hist: string;
  first_at: number | null;
  last_at: number | null;
}

export class HookAggregate {
  calls = 0;
  outcomes: OutcomeCounts = emptyOutcomes();
  dropped = 0;
  budget = 0;
  /** Timestamp of the call that set `budget`, so merges keep the most recent budget. */
  budgetAt = 0;
  maxPct = 0;
  fuel = new Quantity();
  time = new Quantity();
  firstAt: number | null = null;
  lastAt: number | null = null;
  lastFailure: LastFailure | null = null;

  record(r: CallResult, at: number): void {
    // An outcome this version does not know is still a failed call; never a NaN counter.
    const outcome: Outcome = isOutcome(r.outcome) ? r.outcome : 'crashed';
    if (outcome !== 'ok') this.noteFailure(failureOf({ ...r, outcome }, at));
    this.calls += 1;
    this.outcomes[outcome] += 1;
    this.fuel.add(r.fuelUsed);
    this.time.add(r.wallUs);
    this.noteCalls(r.budget, histValue(r.fuelUsed), at);
  }

  /** Counts a tally's calls (all ended ok): the same figures as record() of each, at `at`. */
  recordTally(t: CallTally, at: number): void {
    if (t.count === 0) return;
    const fuel = t.fuel;
    this.calls += t.count;
    this.outcomes.ok += t.count;
    this.fuel.addCounts(fuel);
    this.time.addCounts(t.wallUs);
    this.noteCalls(t.budget, fuel.max, at);
  }

  /** The budget share, the budget in force and the time span, for calls at `at` using at most `maxFuel`. */
  private noteCalls(budget: number, maxFuel: number, at: number): void {
    if (budget > 0) {
      const pct = (maxFuel / budget) * 100;
      if (pct > this.maxPct) this.maxPct = pct;
    }
    if (at >= this.budgetAt) {
      this.budget = budget;
      this.budgetAt = at;
    }
    if (this.firstAt === null || at < this.firstAt) this.firstAt = at;
    if (this.lastAt === null || at > this.lastAt) this.lastAt = at;
  }

  /** Keeps the most recent failure. */
  noteFailure(f: LastFailure | null): void {
    if (f && (this.lastFailure === null || f.at >= this.lastFailure.at)) this.lastFailure = f;
  }

  merge(o: HookAggregate): void {
    this.noteFailure(o.lastFailure);
    this.calls += o.calls;
    for (const k of OUTCOMES) this.outcomes[k] += o.outcomes[k];
    this.dropped += o.dropped;
    if (o.calls > 0 && o.budgetAt >= this.budgetAt) {
      this.budget = o.budget;
      this.budgetAt = o.budgetAt;
    }
    if (o.maxPct > this.maxPct) this.maxPct = o.maxPct;
    this.fuel.merge(o.fuel);
    this.time.merge(o.time);
    if (o.firstAt !== null && (this.firstAt === null || o.firstAt < this.firstAt)) this.firstAt = o.firstAt;
    if (o.lastAt !== null && (this.lastAt === null || o.lastAt > this.lastAt)) this.lastAt = o.lastAt;
  }

  isEmpty(): boolean {
    return this.calls === 0 && this.dropped === 0;
  }

  /** Builds the histograms now (see Quantity), so a later read does not. */
  warm(): void {
    void this.fuel.hist;
    void this.time.hist;
  }

  toStats(hook: HookName): HookStats {
    const fuel: FuelDistribution = {
      ...this.fuel.distribution(this.calls),
      budget: this.budget,
      maxPctOfBudget: this.maxPct,
    };
    return {
      hook,
      calls: this.calls,
      outcomes: { ...this.outcomes },
      dropped: this.dropped,
      fuel,
      timeUs: this.time.distribution(this.calls),
      lastFailure: this.lastFailure === null ? null : { ...this.lastFailure },
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }

  toRow(): AggregateRow {
    const has = this.calls > 0;
    return {
      calls: this.calls,
      ...this.outcomes,
      dropped: this.dropped,
      budget: this.budget,
      fuel_sum: this.fuel.total,
      fuel_min: has ? this.fuel.min : null,
      fuel_max: this.fuel.max,
      fuel_max_pct: this.maxPct,
      fuel_hist: has ? this.fuel.encode() : '',
      time_sum: this.time.total,
      time_min: has ? this.time.min : null,
      time_max: this.time.max,
      time_hist: has ? this.time.encode() : '',
      first_at: this.firstAt,
      last_at: this.lastAt,
    };
  }

  static fromRow(row: AggregateRow): HookAggregate {
    const a = new HookAggregate();
    a.calls = row.calls;
    for (const k of OUTCOMES) a.outcomes[k] = row[k];
    a.dropped = row.dropped;
    a.budget = row.budget;
    a.budgetAt = row.last_at ?? 0;
    a.maxPct = row.fuel_max_pct;
    a.fuel.total = row.fuel_sum;
    a.fuel.min = row.fuel_min ?? Infinity;
    a.fuel.max = row.fuel_max;
    a.time.total = row.time_sum;
    a.time.min = row.time_min ?? Infinity;
    a.time.max = row.time_max;
    if (row.fuel_hist) a.fuel.setEncoded(row.fuel_hist);
    if (row.time_hist) a.time.setEncoded(row.time_hist);
    a.firstAt = row.first_at;
    a.lastAt = row.last_at;
    return a;
  }
}

function failureOf(r: CallResult, at: number): LastFailure {
  const message = (r.message ?? '').slice(0, MAX_MESSAGE);
  const f: LastFailure = { outcome: r.outcome as LastFailure['outcome'], message, at };
  if (r.trapKind !== undefined) f.trapKind = r.trapKind;
  if (r.stack !== undefined && r.stack.length > 0) f.stack = r.stack.slice(0, MAX_FRAMES);
  return f;
}

function decode(b64: string): Histogram {
  const h = hdr().decodeFromCompressedBase64(b64, BUCKET_BITS);
  // Decoded histograms are sized to their data; later merges may bring larger values.
  h.autoResize = true;
  return h;
}

/**
 * Refusals are grouped by URL without its query and by the reason with its numbers masked:
 * "rate limited ...; next token in 711 ms" and "... in 959 ms" are one line with a count, and a
 * cache-busting query string does not make every refusal unique. The newest wording is shown.
 */
export function refusalUrl(url: string): string {
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}

export function reasonKey(reason: string): string {
  return reason.replace(/\d+(\.\d+)?/g, '#');
}

/** Distinct (url, reason) pairs of refused fetches kept per plugin; later new ones are counted together. */
export const MAX_REFUSED_KEYS = 100;
/** The url and reason of that shared entry. */
export const OTHER_REFUSED_URL = '(other URLs)';
export const OTHER_REFUSED_REASON = 'refused fetches to URLs past the first 100 distinct ones, counted together';

/** Aggregates of one plugin: per hook, plus refused fetches keyed by url and reason. */
export class PluginAggregate {
  hooks = new Map<HookName, HookAggregate>();
  refused = new Map<string, { url: string; reason: string; count: number; lastAt: number }>();
  shedding: QueueShedding | null = null;

  hook(h: HookName): HookAggregate {
    let a = this.hooks.get(h);
    if (!a) {
      a = new HookAggregate();
      this.hooks.set(h, a);
    }
    return a;
  }

  /**
   * Counts refused fetches under their URL and reason. The first MAX_REFUSED_KEYS distinct pairs
   * get an entry each. Later new pairs go into one OTHER_REFUSED_URL entry, so a guest that
   * fetches a new URL on every call cannot grow this map (or the stats table fed from it) without
   * bound. Returns the url and reason the count went under.
   */
  addRefused(rawUrl: string, reason: string, count: number, at: number): { url: string; reason: string } {
    let url = refusalUrl(rawUrl);
    let key = `${url}\u0000${reasonKey(reason)}`;
    let cur = this.refused.get(key);
    if (!cur && this.refused.size >= MAX_REFUSED_KEYS) {
      url = OTHER_REFUSED_URL;
      reason = OTHER_REFUSED_REASON;
      key = `${url}\u0000${reasonKey(reason)}`;
      cur = this.refused.get(key);
    }
    if (cur) {
      cur.count += count;
      if (at >= cur.lastAt) {
        cur.lastAt = at;
        cur.reason = reason;
      }
    } else {
      this.refused.set(key, { url, reason, count, lastAt: at });
    }
    return { url, reason };
  }

  merge(o: PluginAggregate): void {
    for (const [h, a] of o.hooks) this.hook(h).merge(a);
    for (const r of o.refused.values()) this.addRefused(r.url, r.reason, r.count, r.lastAt);
  }

  isEmpty(): boolean {
    for (const a of this.hooks.values()) if (!a.isEmpty()) return false;
    return this.refused.size === 0 && this.shedding === null;
  }
}

/** Counts per outcome summed over hooks. */
export function sumOutcomes(hooks: Iterable<HookAggregate>): OutcomeCounts {
  const out = emptyOutcomes();
  for (const a of hooks) for (const k of OUTCOMES) out[k] += a.outcomes[k];
  return out;
}

export function hookOrder(a: HookName, b: HookName): number {
  return HOOK_NAMES.indexOf(a) - HOOK_NAMES.indexOf(b);
}

export function isOutcome(s: string): s is Outcome {
  return (OUTCOMES as readonly string[]).includes(s);
}
