/**
 * The response cache as the dev server uses it: sized from the config, and every write or
 * invalidation announced to the plugins (on_cache_write, on_cache_invalidate) off the request path.
 */
import type { ResolvedConfig } from '../config/types.js';
import type { PluginSupervisor } from '../plugins/supervisor.js';
import { parseTags, ResponseCache, type CacheLimits } from './cache.js';
import type { HeaderMap } from './types.js';

export interface SiteCache {
  readonly store: ResponseCache;
  /** Stores a response (tags from its headers); on_cache_write when it was kept. */
  save(key: string, status: number, headers: HeaderMap, body: Buffer): void;
  /** Removes entries matching a `page:` glob; on_cache_invalidate(pattern, count). */
  invalidate(pattern: string): number;
  /** Removes the entries carrying a tag; on_cache_invalidate("tag:<tag>", count). */
  invalidateTag(tag: string): number;
  /** Empties the cache; on_cache_invalidate("page:**", count) when anything was removed. */
  clear(): void;
  resize(cfg: ResolvedConfig): void;
}

function limitsOf(cfg: ResolvedConfig): CacheLimits {
  return { ttlMs: cfg.cache.ttl_secs * 1000, maxEntries: cfg.cache.max_entries, maxBytes: cfg.cache.max_bytes };
}

export function createSiteCache(cfg: ResolvedConfig, plugins: PluginSupervisor): SiteCache {
  const store = new ResponseCache(limitsOf(cfg));
  return {
    store,
    save(key, status, headers, body) {
      const tags = parseTags(headers);
      if (store.set(key, status, headers, body, tags)) {
        plugins.broadcast({ hook: 'on_cache_write', key, tagsJson: JSON.stringify(tags) });
      }
    },
    invalidate(pattern) {
      const removed = store.invalidate(pattern).length;
      plugins.broadcast({ hook: 'on_cache_invalidate', pattern, count: removed });
      return removed;
    },
    invalidateTag(tag) {
      const removed = store.invalidateTag(tag).length;
      plugins.broadcast({ hook: 'on_cache_invalidate', pattern: `tag:${tag}`, count: removed });
      return removed;
    },
    clear() {
      const removed = store.clear();
      if (removed > 0) plugins.broadcast({ hook: 'on_cache_invalidate', pattern: 'page:**', count: removed });
    },
    resize(next) {
      store.resize(limitsOf(next));
    },
  };
}
