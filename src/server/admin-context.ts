/** What the admin API (admin.ts) reads and changes in a running dev server. */
import type { StatsRecorder } from '../stats/index.js';
import { HttpError, type AdminContext } from './admin.js';
import type { ServerContext } from './context.js';
import type { Reloader } from './reload.js';

const ENDPOINTS = ['GET plugins', 'GET stats', 'GET stats/NAME', 'GET metrics', 'POST cache/invalidate', 'POST reload'];

export function createAdminContext(ctx: ServerContext, stats: StatsRecorder, reloader: Reloader, url: () => string): AdminContext {
  const { plugins, cache } = ctx;
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
      cache: { enabled: ctx.config.cache.enabled, entries: cache.store.size, bytes: cache.store.bytes },
      plugins: plugins.infos().map((p) => ({ name: p.name, state: p.state })),
      endpoints: ENDPOINTS,
    }),
  };
}
