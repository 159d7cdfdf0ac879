/**
 * Where a page comes from: the static root, the upstream, or both (a file the root lacks goes to
 * the upstream). Re-applied when the config changes; an upstream that stays the same keeps its
 * connection pool.
 */
import type { IncomingMessage } from 'node:http';
import type { ResolvedConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { errorPage } from './pages.js';
import { createProxy, type Proxy } from './proxy.js';
import { openStaticRoot, serveStatic, type StaticRoot } from './static.js';
import type { OriginResponse } from './types.js';
import type { HtmlInjection } from './html-inject.js';
import { one, requestMethod } from './headers.js';

export interface Origins {
  /** Opens the root and (re)creates the proxy for `cfg`; problems go to `warnings` and the log. */
  apply(cfg: ResolvedConfig, warnings: string[]): Promise<void>;
  /**
   * Answers a site request from the root, else the upstream, else a 404 page: at once when the
   * root answers from memory, else a promise. `signal` is asked for only when the upstream is.
   */
  fetch(req: IncomingMessage, rawPath: string, search: string, signal: () => AbortSignal): OriginResponse | Promise<OriginResponse>;
  /** The upstream proxy, if one is configured (WebSocket upgrades go there). */
  proxy(): Proxy | null;
  close(): Promise<void>;
}

/** `inject` says what static HTML pages get added now (the live-reload tag), if anything. */
export function createOrigins(log: Logger, inject: () => HtmlInjection | null = () => null): Origins {
  let staticRoot: StaticRoot | null = null;
  let proxy: Proxy | null = null;

  async function apply(cfg: ResolvedConfig, warnings: string[]): Promise<void> {
    if (cfg.server.root) {
      const r = await openStaticRoot(cfg.server.root);
      if ('error' in r) {
        staticRoot = null;
        warnings.push(r.error);
        log.warn(r.error);
      } else staticRoot = r;
    } else staticRoot = null;
    if (proxy && proxy.upstream.href !== (cfg.server.upstream ? new URL(cfg.server.upstream).href : null)) {
      const old = proxy;
      proxy = null;
      void old.close().catch(() => {});
    }
    if (!proxy && cfg.server.upstream) proxy = createProxy(cfg.server.upstream);
  }

  function fetch(req: IncomingMessage, rawPath: string, search: string, signal: () => AbortSignal): OriginResponse | Promise<OriginResponse> {
    const method = requestMethod(req);
    if (staticRoot) {
      const r = serveStatic(staticRoot, {
        method,
        rawPath,
        search,
        ifNoneMatch: one(req.headers['if-none-match']),
        ifModifiedSince: one(req.headers['if-modified-since']),
      }, inject());
      if (r instanceof Promise) return r.then((x) => (x.notFound && proxy ? proxy.forward(req, rawPath + search, signal()) : x));
      if (!(r.notFound && proxy)) return r;
    }
    if (proxy) return proxy.forward(req, rawPath + search, signal());
    return noOrigin();
  }

  function noOrigin(): OriginResponse {
    const body = errorPage(404, 'Not Found', 'bext has no server.root or server.upstream configured.');
    return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) }, body };
  }

  return {
    apply,
    fetch,
    proxy: () => proxy,
    close: async () => {
      await proxy?.close().catch(() => {});
    },
  };
}
