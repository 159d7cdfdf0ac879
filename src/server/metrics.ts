/**
 * `GET /__bext/metrics`: the plugins' `emit_metric` series followed by the server's own, both
 * rendered by prom-client. The server's values are read when the page is scraped (collect), so
 * a request only bumps a plain counter on its way out.
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { PluginSupervisor } from '../plugins/supervisor.js';
import type { ResponseCache } from './cache.js';
import type { CacheStatus } from './types.js';

export interface ServerMetrics {
  /** Counts one response by its cache status (the request hot path). */
  countResponse(status: CacheStatus): void;
  /** Prometheus text: plugin metrics, then the server's. */
  render(): Promise<string>;
}

export interface MetricSources {
  cache: ResponseCache;
  plugins: PluginSupervisor;
  /** Prometheus text of the plugins' own metrics. */
  pluginMetrics(): Promise<string>;
}

const STATUSES: readonly CacheStatus[] = ['HIT', 'MISS', 'STALE', 'BYPASS'];

// prom-client loads with the first scrape, not at start-up.
const load = createRequire(import.meta.url);

/** The server's series, read from the counts, the cache and the plugins when scraped. */
function registerServerMetrics(
  registry: Registry,
  prom: typeof import('prom-client'),
  responses: Record<CacheStatus, number>,
  { cache, plugins }: Pick<MetricSources, 'cache' | 'plugins'>,
): void {
  const { Counter, Gauge } = prom;
  new Counter({
    name: 'bext_http_responses_total',
    help: 'Responses by cache status.',
    labelNames: ['cache_status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of STATUSES) this.inc({ cache_status: s }, responses[s]);
    },
  });
  new Gauge({
    name: 'bext_cache_entries',
    help: 'Entries in the response cache.',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  new Gauge({
    name: 'bext_cache_bytes',
    help: 'Bytes held by the response cache.',
    registers: [registry],
    collect() {
      this.set(cache.bytes);
    },
  });
  new Gauge({
    name: 'bext_event_queue_pending',
    help: 'Hook calls waiting in a plugin queue.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, d] of Object.entries(plugins.queueDepths())) this.set({ plugin }, d.pending);
    },
  });
  new Counter({
    name: 'bext_events_dropped_total',
    help: 'Hook calls dropped because a plugin queue was full.',
    labelNames: ['plugin'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, d] of Object.entries(plugins.queueDepths())) this.inc({ plugin }, d.dropped);
    },
  });
}

export function createServerMetrics(sources: MetricSources): ServerMetrics {
  const responses: Record<CacheStatus, number> = { HIT: 0, MISS: 0, STALE: 0, BYPASS: 0 };
  let registry: Registry | null = null;
  const build = (): Registry => {
    const prom = load('prom-client') as typeof import('prom-client');
    const r = new prom.Registry();
    registerServerMetrics(r, prom, responses, sources);
    return r;
  };

  return {
    countResponse(status) {
      responses[status]++;
    },
    async render() {
      const fromPlugins = await sources.pluginMetrics();
      registry ??= build();
      const own = await registry.metrics();
      return `${fromPlugins}${fromPlugins && !fromPlugins.endsWith('\n') ? '\n' : ''}${own}`;
    },
  };
}
