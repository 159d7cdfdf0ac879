/**
 * `emit_metric` → Prometheus text (served by the dev server at `/__bext/metrics`), rendered by
 * prom-client from a Registry of our own (never the global one).
 *
 * Which kind a name becomes (docs/permissions.md, "Metrics"):
 *   - a name ending in a unit (`_seconds`, `_ms`, `_milliseconds`, `_us`, `_microseconds`,
 *     `_bytes`, `_size`, `_duration`, `_latency`) is a histogram: each emit observes the value,
 *     with buckets chosen for that unit;
 *   - anything else (including `*_total`) is a counter: each emit adds the value (must be ≥ 0).
 * Labels are `plugin` plus the sample's tags. Names are sanitised to the Prometheus alphabet
 * (`[a-zA-Z_:][a-zA-Z0-9_:]*`; `bext_*`, the server's own namespace, becomes `plugin_bext_*`)
 * with a warning the first time; empty or over-long names and
 * non-finite values are refused with a warning. Cardinality is capped: a metric keeps the label
 * names of its first sample, and at most LIMITS.maxSeriesPerMetric label combinations; there are
 * at most LIMITS.maxMetrics names. Samples past a cap are dropped with a warning (once per cause).
 */
import { createRequire } from 'node:module';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { MetricSample } from '../../runtime/types.js';
import { logger } from '../../log.js';

export const LIMITS = Object.freeze({
  maxMetrics: 500,
  maxSeriesPerMetric: 1_000,
  maxTags: 16,
  maxNameLength: 200,
  maxLabelValueLength: 256,
});

export type MetricKind = 'counter' | 'histogram';

const UNIT_BUCKETS: ReadonlyArray<readonly [RegExp, number[]]> = [
  [/_(seconds|duration|latency)$/, [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]],
  [/_(ms|milliseconds)$/, [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]],
  [/_(us|microseconds)$/, [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000, 1_000_000]],
  [/_(bytes|size)$/, [64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216]],
];

/** The kind a (sanitised) metric name becomes. */
export function metricKind(name: string): MetricKind {
  return UNIT_BUCKETS.some(([re]) => re.test(name)) ? 'histogram' : 'counter';
}

function bucketsFor(name: string): number[] {
  return UNIT_BUCKETS.find(([re]) => re.test(name))?.[1] ?? [];
}

/** Maps a guest's metric name to the Prometheus alphabet; null when nothing usable is left. */
export function sanitizeMetricName(raw: string): string | null {
  if (raw.length === 0 || raw.length > LIMITS.maxNameLength) return null;
  let s = raw.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  // Names that are only separators carry no meaning; a leading "__" is reserved by Prometheus.
  if (/^[_:]*$/.test(s)) return null;
  if (s.startsWith('__')) s = s.replace(/^_+/, '');
  // bext_* is the dev server's own namespace on the same /__bext/metrics page.
  if (/^bext_/i.test(s)) s = `plugin_${s}`;
  return /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(s) ? s : null;
}

const RESERVED_LABELS: ReadonlySet<string> = new Set(['plugin', 'le', 'quantile']);

/** Maps a tag key to a valid label name; reserved ones (plugin, le, quantile, __*) get a `tag_` prefix. */
export function sanitizeLabelName(raw: string): string | null {
  if (raw.length === 0 || raw.length > LIMITS.maxNameLength) return null;
  let s = raw.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  if (/^_*$/.test(s)) return null;
  if (RESERVED_LABELS.has(s) || s.startsWith('__')) s = `tag_${s.replace(/^_+/, '')}`;
  return s;
}

interface Entry {
  kind: MetricKind;
  counter?: Counter<string>;
  histogram?: Histogram<string>;
  labelNames: readonly string[];
  series: Set<string>;
}

export interface Metrics {
  record(sample: MetricSample): void;
  /** Prometheus text exposition format. */
  render(): Promise<string>;
  readonly contentType: string;
}

// prom-client loads with the first metric or scrape, not at start-up.
const load = createRequire(import.meta.url);
const promClient = (): typeof import('prom-client') => load('prom-client') as typeof import('prom-client');

export function createMetrics(): Metrics {
  let registryOnce: Registry | null = null;
  const registry = (): Registry => (registryOnce ??= new (promClient().Registry)());
  const entries = new Map<string, Entry>();
  const warned = new Set<string>();

  /** Warns once per cause so a plugin emitting in a loop cannot flood the log. */
  function warnOnce(key: string, fields: Record<string, unknown>, msg: string): void {
    if (warned.has(key)) return;
    if (warned.size < 10_000) warned.add(key);
    logger().warn(fields, msg);
  }

  function entryFor(name: string, plugin: string, tagNames: string[]): Entry | null {
    const hit = entries.get(name);
    if (hit) return hit;
    if (entries.size >= LIMITS.maxMetrics) {
      warnOnce(`max-metrics:${name}`, { plugin, metric: name, limit: LIMITS.maxMetrics }, 'emit_metric dropped: too many metric names');
      return null;
    }
    const labelNames = ['plugin', ...tagNames.sort().slice(0, LIMITS.maxTags)];
    const kind = metricKind(name);
    const help = `emitted by plugins through emit_metric (${kind})`;
    const entry: Entry = { kind, labelNames, series: new Set() };
    try {
      if (kind === 'histogram') {
        const buckets = bucketsFor(name);
        entry.histogram = new (promClient().Histogram)({ name, help, labelNames, registers: [registry()], ...(buckets.length ? { buckets } : {}) });
      } else {
        entry.counter = new (promClient().Counter)({ name, help, labelNames, registers: [registry()] });
      }
    } catch (err) {
      // e.g. a counter whose name collides with a histogram's generated _count/_sum series.
      warnOnce(`register:${name}`, { plugin, metric: name, err: (err as Error).message }, 'emit_metric dropped: metric name refused');
      return null;
    }
    entries.set(name, entry);
    return entry;
  }

  return {
    get contentType() {
      return registry().contentType;
    },
    record(sample: MetricSample): void {
      const { plugin, value } = sample;
      const name = sanitizeMetricName(String(sample.name));
      if (name === null) {
        warnOnce(`bad-name:${plugin}:${String(sample.name).slice(0, 64)}`, { plugin, metric: String(sample.name).slice(0, 256) }, 'emit_metric refused: invalid metric name (empty, too long or no valid characters)');
        return;
      }
      if (name !== sample.name) {
        warnOnce(`renamed:${plugin}:${sample.name}`, { plugin, metric: sample.name, as: name }, 'emit_metric: metric name sanitised');
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        warnOnce(`nonfinite:${plugin}:${name}`, { plugin, metric: name, value: String(value) }, 'emit_metric refused: value is not a finite number');
        return;
      }
      const tags = new Map<string, string>();
      for (const [k, v] of Object.entries(sample.tags ?? {})) {
        const label = sanitizeLabelName(k);
        if (label === null) {
          warnOnce(`bad-tag:${plugin}:${name}:${k.slice(0, 64)}`, { plugin, metric: name, tag: k.slice(0, 256) }, 'emit_metric: tag with an unusable name dropped');
          continue;
        }
        tags.set(label, String(v).slice(0, LIMITS.maxLabelValueLength));
      }
      const entry = entryFor(name, plugin, [...tags.keys()]);
      if (!entry) return;
      if (entry.kind === 'counter' && value < 0) {
        warnOnce(`negative:${plugin}:${name}`, { plugin, metric: name, value }, 'emit_metric refused: counters only go up (negative value)');
        return;
      }
      const labels: Record<string, string> = { plugin };
      for (const l of entry.labelNames) if (l !== 'plugin') labels[l] = tags.get(l) ?? '';
      for (const k of tags.keys()) {
        if (!entry.labelNames.includes(k)) {
          warnOnce(`extra-tag:${name}:${k}`, { plugin, metric: name, tag: k, labels: entry.labelNames }, 'emit_metric: tag not in this metric\'s label set (fixed by its first sample) dropped');
        }
      }
      const seriesKey = entry.labelNames.map((l) => labels[l]).join('\u0000');
      if (!entry.series.has(seriesKey)) {
        if (entry.series.size >= LIMITS.maxSeriesPerMetric) {
          warnOnce(`max-series:${name}`, { plugin, metric: name, limit: LIMITS.maxSeriesPerMetric }, 'emit_metric dropped: too many label combinations for this metric');
          return;
        }
        entry.series.add(seriesKey);
      }
      if (entry.counter) entry.counter.inc(labels, value);
      else entry.histogram!.observe(labels, value);
    },
    render: () => registry().metrics(),
  };
}
