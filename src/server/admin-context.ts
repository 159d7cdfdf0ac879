/** What the admin API (admin.ts) reads and changes in a running dev server. */
import type { StatsRecorder } from '../stats/index.js';
import { ADMIN_ENDPOINTS, HttpError, type AdminContext } from './admin.js';
import type { ServerContext } from './context.js';
import { dashboardView } from './dashboard-view.js';
import type { LiveFeed } from './live-feed.js';
import type { LiveReload } from './live-reload.js';
import type { PluginHistory } from './plugin-history.js';
import type { Reloader } from './reload.js';

export interface AdminParts {
  stats: StatsRecorder;
  reloader: Reloader;
  history: PluginHistory;
  feed: LiveFeed;
  liveReload: LiveReload;
  /** Epoch ms the server started. */
  startedAt: number;
}

export function createAdminContext(ctx: ServerContext, parts: AdminParts, url: () => string): AdminContext {
  const { plugins, cache } = ctx;
  const { stats, reloader, history, feed } = parts;
  const cacheInfo = () => ({ enabled: ctx.config.cache.enabled, entries: cache.store.size, bytes: cache.store.bytes });
  return {
    listenHost: ctx.listenHost,
    plugins: () => plugins.infos(),
    stats,
    beforeStats: () => plugins.flushDrops(),
    metrics: () => ctx.metrics.render(),
    invalidate: (pattern) => cache.invalidate(pattern),
    invalidateTag: (tag) => cache.invalidateTag(tag),
    reload: async () => {
      const r = await reloader.applyConfigFile(true);
      if (!r.ok) throw new HttpError(400, r.error.message, { details: r.error.details });
      return { ...r.summary, plugins: plugins.infos() };
    },
    status: () => ({
      name: 'bext',
      url: url(),
      root: ctx.config.server.root,
      upstream: ctx.config.server.upstream,
      cache: cacheInfo(),
      plugins: plugins.infos().map((p) => ({ name: p.name, state: p.state })),
      endpoints: ADMIN_ENDPOINTS,
    }),
    dashboard: () =>
      dashboardView({
        infos: () => plugins.infos(),
        queueDepths: () => plugins.queueDepths(),
        history,
        server: () => ({ url: url(), pid: process.pid, startedAt: parts.startedAt, cache: cacheInfo() }),
      }),
    failures: (plugin) => history.recentFailures(undefined, plugin),
    events: feed,
    liveReload: parts.liveReload,
    reloadPlugin: (name) => plugins.reload(name),
    resetStats: (plugin) => {
      stats.reset(plugin);
      history.reset(plugin);
      feed.publish('reset', { plugin: plugin ?? null });
    },
  };
}
