/** Turns in-memory aggregates into the plain JSON StatsSnapshot. */
import { hookOrder, sumOutcomes, type PluginAggregate } from './aggregate.js';
import { STATS_SNAPSHOT_VERSION, type PluginStats, type StatsSnapshot } from './types.js';

const TOP_REFUSED = 10;

export function pluginStats(name: string, agg: PluginAggregate): PluginStats {
  const hooks = [...agg.hooks.entries()]
    .filter(([, a]) => !a.isEmpty())
    .sort(([a], [b]) => hookOrder(a, b))
    .map(([h, a]) => a.toStats(h));
  const refused = [...agg.refused.values()].sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);
  const out: PluginStats = {
    plugin: name,
    calls: hooks.reduce((n, h) => n + h.calls, 0),
    outcomes: sumOutcomes(agg.hooks.values()),
    dropped: hooks.reduce((n, h) => n + h.dropped, 0),
    fetchRefused: {
      count: refused.reduce((n, r) => n + r.count, 0),
      top: refused.slice(0, TOP_REFUSED).map((r) => ({ ...r })),
    },
    hooks,
  };
  if (agg.shedding) out.shedding = { ...agg.shedding };
  return out;
}

export function toSnapshot(
  aggs: Map<string, PluginAggregate>,
  source: StatsSnapshot['source'],
  now: number,
  since: number | null,
  only?: string,
): StatsSnapshot {
  const plugins: Record<string, PluginStats> = {};
  for (const name of [...aggs.keys()].sort()) {
    if (only !== undefined && name !== only) continue;
    const agg = aggs.get(name)!;
    if (agg.isEmpty()) continue;
    plugins[name] = pluginStats(name, agg);
  }
  return {
    version: STATS_SNAPSHOT_VERSION,
    source,
    generatedAt: new Date(now).toISOString(),
    since: since === null ? null : new Date(since).toISOString(),
    plugins,
  };
}
