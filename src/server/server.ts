/**
 * `createDevServer()`: the dev server as a library (the `bext dev` command and the tests both
 * use it). Start order: stats + metrics → load plugins in parallel → on_server_start in priority
 * order → listen. Requests are answered from the response cache, the static root and/or the
 * upstream; hooks run afterwards on per-plugin queues, never on the request path.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResolvedConfig } from '../config/types.js';
import type { PluginInfo } from '../runtime/types.js';
import type { StatsRecorder } from '../stats/index.js';
import { BextError } from '../errors.js';
import { logger, type Logger } from '../host/log.js';
import { stateDbPath } from '../host/state-db.js';
import { ADMIN_PREFIX, handleAdmin, HttpError, type AdminContext } from './admin.js';
import { cacheKey, parseTags, requestBypasses, ResponseCache, storability, type CacheEntry } from './cache.js';
import { configApi, fetchHandlerFactory, metricsFactory, pluginLoader, statsRecorder, type ParseResult } from './deps.js';
import { errorPage } from './pages.js';
import { PluginSet, type ApplySummary } from './plugin-set.js';
import { createProxy, type Proxy } from './proxy.js';
import { buildEvent } from './request-event.js';
import { etagMatches, openStaticRoot, serveStatic, type StaticRoot } from './static.js';
import type { CacheStatus, HeaderMap, OriginResponse } from './types.js';
import { createWatcher, type ChangeBatch, type Watcher } from './watcher.js';

export interface DevServerOptions {
  /** Overrides server.port (0 = any free port). */
  port?: number;
  /** Overrides server.host. */
  host?: string;
  /** Hot reload on file changes (default true). */
  watch?: boolean;
  log?: Logger;
  /** Called as each plugin finishes loading (for a progress line on a TTY). */
  onProgress?(done: number, total: number, name: string): void;
  /** Re-validates the config file for hot reload; defaults to the config module's parseConfig. */
  reparse?(file: string): ParseResult | Promise<ParseResult>;
  /** Upper bound for finishing in-flight responses and draining event queues at shutdown (ms). */
  drainTimeoutMs?: number;
}

export interface DevServer {
  url: string;
  host: string;
  port: number;
  /** Problems found while starting (plugins skipped, settings that need attention). */
  warnings: string[];
  startMs: number;
  config(): ResolvedConfig;
  plugins(): PluginInfo[];
  /** Stops accepting, finishes in-flight responses, drains events, stops plugins, flushes stats. Idempotent. */
  close(reason?: string): Promise<void>;
}

function formatUrl(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${h}:${port}/`;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): BextError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new BextError('port_in_use', `port ${port} on ${host} is already in use`, {
        exitCode: 1,
        details: [`  hint: stop the other server, or pick another port with -p, e.g. bext dev -p ${port + 1} (-p 0 picks any free port)`],
      });
    case 'EACCES':
      return new BextError('port_denied', `not allowed to listen on ${host}:${port}`, {
        exitCode: 1,
        details: ['  hint: ports below 1024 need extra privileges; pick another with -p, e.g. -p 3000'],
      });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BextError('bad_host', `cannot listen on ${host}: it is not an address of this machine`, {
        exitCode: 1,
        details: ['  hint: use --host 127.0.0.1 (default) or --host 0.0.0.0 to listen on every interface'],
      });
    default:
      return new BextError('listen_failed', `cannot listen on ${host}:${port}: ${err.message}`, { exitCode: 1 });
  }
}

function acceptsEncoding(req: IncomingMessage, encoding: string | undefined): boolean {
  if (!encoding || encoding === 'identity') return true;
  const accept = String(req.headers['accept-encoding'] ?? '').toLowerCase();
  return accept.split(',').some((e) => {
    const [name, q] = e.trim().split(';');
    return (name === encoding || name === '*') && !/q=0(\.0*)?$/.test((q ?? '').trim());
  });
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export async function createDevServer(initial: ResolvedConfig, opts: DevServerOptions = {}): Promise<DevServer> {
  const started = performance.now();
  const log = opts.log ?? logger();
  const warnings: string[] = [];
  let config = initial;
  const host = opts.host ?? config.server.host;
  const wantPort = opts.port ?? config.server.port;
  const drainMs = opts.drainTimeoutMs ?? 5_000;

  // --- services -------------------------------------------------------------------------
  const stats: StatsRecorder = await statsRecorder(stateDbPath(config.stateDir));
  const metrics = (await metricsFactory())();
  const plugins = new PluginSet({
    loadPlugin: await pluginLoader(),
    stateDir: config.stateDir,
    stats,
    metrics,
    createFetchHandler: await fetchHandlerFactory(),
    log,
  });

  // --- origins ----------------------------------------------------------------------------
  let staticRoot: StaticRoot | null = null;
  let proxy: Proxy | null = null;
  async function applyOrigins(cfg: ResolvedConfig): Promise<void> {
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
  await applyOrigins(config);
  if (!/^(127\.|::1$|localhost$)/.test(host)) {
    warnings.push(`listening on ${host}: the site is reachable from other machines (the admin API still answers loopback only)`);
  }
  if (!config.server.root && !config.server.upstream) {
    warnings.push('neither server.root nor server.upstream is set: every page will be a 404');
  }

  const cacheLimits = (cfg: ResolvedConfig) => ({
    ttlMs: cfg.cache.ttl_secs * 1000,
    maxEntries: cfg.cache.max_entries,
    maxBytes: cfg.cache.max_bytes,
  });
  const cache = new ResponseCache(cacheLimits(config));
  const counters = new Map<CacheStatus, number>([['HIT', 0], ['MISS', 0], ['STALE', 0], ['BYPASS', 0]]);

  function invalidate(pattern: string): number {
    const removed = cache.invalidate(pattern).length;
    plugins.broadcast({ hook: 'on_cache_invalidate', pattern, count: removed });
    return removed;
  }

  function invalidateTag(tag: string): number {
    const removed = cache.invalidateTag(tag).length;
    plugins.broadcast({ hook: 'on_cache_invalidate', pattern: `tag:${tag}`, count: removed });
    return removed;
  }

  function clearCache(): void {
    const removed = cache.clear();
    if (removed > 0) plugins.broadcast({ hook: 'on_cache_invalidate', pattern: 'page:**', count: removed });
  }

  // --- request handling ---------------------------------------------------------------------
  let active = 0;
  let closing = false;
  let idleWaiter: (() => void) | null = null;

  async function origin(req: IncomingMessage, rawPath: string, search: string, signal: AbortSignal): Promise<OriginResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    if (staticRoot) {
      const r = await serveStatic(staticRoot, {
        method,
        rawPath,
        search,
        ifNoneMatch: one(req.headers['if-none-match']),
        ifModifiedSince: one(req.headers['if-modified-since']),
      });
      if (!(r.notFound && proxy)) return r;
    }
    if (proxy) return proxy.forward(req, signal);
    const body = errorPage(404, 'Not Found', 'bext has no server.root or server.upstream configured.');
    return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) }, body };
  }

  function serveEntry(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, status: CacheStatus, mark: () => void): number {
    const headers: HeaderMap = { ...entry.headers, age: String(Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000))), 'x-bext-cache': status };
    if (closing) headers.connection = 'close';
    const etag = one(entry.headers.etag);
    if (etag && etagMatches(one(req.headers['if-none-match']), etag)) {
      delete headers['content-length'];
      delete headers['content-type'];
      res.writeHead(304, headers);
      mark();
      res.end();
      return 0;
    }
    res.writeHead(entry.status, headers);
    mark();
    if (req.method === 'HEAD') {
      res.end();
      return 0;
    }
    res.end(entry.body);
    return entry.body.length;
  }

  /** What one request did, filled in as it goes; read once when the response closes. */
  interface RequestState {
    t0: number;
    ts: number;
    rawPath: string;
    search: string;
    /** ms from t0 to the response head. */
    ttfb: number;
    cacheStatus: CacheStatus;
    bytes: number;
    // writeHead(status, headers) does not make headers visible to getHeader(), so keep it here.
    encoding: string | undefined;
    /** A site request (admin requests produce no events). */
    site: boolean;
    abort: AbortController | null;
  }

  function finishRequest(req: IncomingMessage, res: ServerResponse, st: RequestState): void {
    active--;
    if (active === 0 && idleWaiter) idleWaiter();
    if (st.abort && !res.writableFinished) st.abort.abort();
    if (!st.site || !plugins.wantsEvents()) return;
    const event = buildEvent(req, st.rawPath, st.search, res.statusCode, st.cacheStatus, st.encoding, {
      ts: st.ts,
      renderUs: Math.round(st.ttfb * 1000),
      durationUs: Math.round((performance.now() - st.t0) * 1000),
      bytes: st.bytes,
    }, { tenant_id: config.server.tenant_id, site_id: config.server.site_id });
    plugins.pushEvent(event);
  }

  async function handleSite(req: IncomingMessage, res: ServerResponse, st: RequestState): Promise<void> {
    const { rawPath, search, t0 } = st;
    st.site = true;
    const mark = (): void => {
      st.ttfb = performance.now() - t0;
    };
    const method = (req.method ?? 'GET').toUpperCase();
    const useCache = config.cache.enabled && (method === 'GET' || method === 'HEAD') && !requestBypasses(req.headers);
    let stale: CacheEntry | null = null;
    let key = '';
    if (useCache) {
      key = cacheKey(rawPath, search);
      const found = cache.get(key);
      if (found && acceptsEncoding(req, one(found.entry.headers['content-encoding']))) {
        if (found.fresh) {
          st.cacheStatus = 'HIT';
          st.encoding = one(found.entry.headers['content-encoding']);
          counters.set('HIT', counters.get('HIT')! + 1);
          st.bytes = serveEntry(req, res, found.entry, 'HIT', mark);
          return;
        }
        stale = found.entry;
      }
      st.cacheStatus = 'MISS';
    }

    const abort = new AbortController();
    st.abort = abort;
    const r = await origin(req, rawPath, search, abort.signal);
    if (r.unreachable && stale) {
      // stale-if-error: an expired copy beats an error page while the app restarts.
      if (r.body && !Buffer.isBuffer(r.body)) r.body.resume();
      st.cacheStatus = 'STALE';
      st.encoding = one(stale.headers['content-encoding']);
      counters.set('STALE', counters.get('STALE')! + 1);
      st.bytes = serveEntry(req, res, stale, 'STALE', mark);
      return;
    }
    let store = false;
    if (useCache) {
      const verdict = storability(method, r.status, r.headers);
      if (verdict === 'bypass') st.cacheStatus = 'BYPASS';
      store = verdict === 'store' && r.body !== null;
    }
    counters.set(st.cacheStatus, counters.get(st.cacheStatus)! + 1);
    st.encoding = one(r.headers['content-encoding']);
    const headers: HeaderMap = { ...r.headers, 'x-bext-cache': st.cacheStatus };
    if (closing) headers.connection = 'close';
    res.writeHead(r.status, headers);
    mark();
    if (r.body === null) {
      res.end();
      return;
    }
    const save = (body: Buffer): void => {
      const tags = parseTags(r.headers);
      if (cache.set(key, r.status, r.headers, body, tags)) {
        plugins.broadcast({ hook: 'on_cache_write', key, tagsJson: JSON.stringify(tags) });
      }
    };
    if (Buffer.isBuffer(r.body)) {
      st.bytes = r.body.length;
      res.end(r.body);
      if (store) save(r.body);
      return;
    }
    const chunks: Buffer[] = [];
    let keep = store;
    const limit = cache.maxEntryBytes;
    let bytes = 0;
    r.body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      st.bytes = bytes;
      if (!keep) return;
      if (bytes > limit) {
        keep = false;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    try {
      await pipeline(r.body, res);
      if (keep) save(Buffer.concat(chunks));
    } catch {
      // The client went away or the upstream broke mid-body; nothing is stored.
      res.destroy();
    }
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const st: RequestState = {
      t0: performance.now(),
      ts: Date.now(),
      rawPath: '',
      search: '',
      ttfb: 0,
      cacheStatus: 'BYPASS',
      bytes: 0,
      encoding: undefined,
      site: false,
      abort: null,
    };
    active++;
    res.once('close', () => finishRequest(req, res, st));
    try {
      let url = req.url ?? '/';
      let q = url.indexOf('?');
      let rawPath = q < 0 ? url : url.slice(0, q);
      let search = q < 0 ? '' : url.slice(q);
      if (!rawPath.startsWith('/')) {
        // Absolute-form request target (GET http://host/path): only its path matters.
        try {
          const u = new URL(url);
          url = u.pathname + u.search;
          q = url.indexOf('?');
          rawPath = u.pathname;
          search = u.search;
        } catch {
          const body = errorPage(400, 'Bad Request', 'the request target is not a path');
          res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'x-bext-cache': 'BYPASS' });
          res.end(body);
          return;
        }
      }
      if (rawPath === '/__bext' || rawPath.startsWith(ADMIN_PREFIX)) {
        await handleAdmin(req, res, rawPath.slice(ADMIN_PREFIX.length), admin);
        return;
      }
      st.rawPath = rawPath;
      st.search = search;
      await handleSite(req, res, st);
    } catch (err) {
      log.error({ err }, `request ${req.method} ${req.url} failed`);
      if (!res.headersSent) {
        const body = errorPage(500, 'Internal Server Error', `bext failed to answer this request: ${(err as Error)?.message ?? err}`);
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'x-bext-cache': 'BYPASS' });
        res.end(body);
      } else res.destroy();
    }
  }

  // --- reloads --------------------------------------------------------------------------------
  const reparse = opts.reparse ?? (async (file: string): Promise<ParseResult> => {
    const api = await configApi();
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return { ok: false, error: new BextError('config_unreadable', `cannot read ${file}: ${(err as Error).message}`) };
    }
    return api.parseConfig(text, file);
  });

  let watcher: Watcher | null = null;
  const watchTargets = () => ({
    configFile: config.file,
    wasm: plugins.wasmPaths(),
    root: config.server.root,
    ignore: [config.stateDir],
  });

  async function applyConfigFile(reloadAll: boolean): Promise<{ ok: true; summary: ApplySummary } | { ok: false; error: BextError }> {
    const parsed = await reparse(config.file);
    if (!parsed.ok) {
      const details = parsed.error.details.length > 0 ? `\n${parsed.error.details.join('\n')}` : '';
      log.error(`config change not applied, the running config stays: ${parsed.error.message}${details}`);
      return parsed;
    }
    const next = parsed.config;
    if (opts.port === undefined && next.server.port !== config.server.port) {
      log.warn(`server.port changed to ${next.server.port}; restart bext dev to listen there`);
    }
    if (opts.host === undefined && next.server.host !== config.server.host) {
      log.warn(`server.host changed to ${next.server.host}; restart bext dev to listen there`);
    }
    const cacheChanged = JSON.stringify(next.cache) !== JSON.stringify(config.cache);
    const originChanged = next.server.root !== config.server.root || next.server.upstream !== config.server.upstream;
    config = next;
    await applyOrigins(next);
    if (cacheChanged) cache.resize(cacheLimits(next));
    if (cacheChanged || originChanged || reloadAll) clearCache();
    const summary = await plugins.applyConfig(next.plugins, { reloadAll });
    watcher?.update(watchTargets());
    const parts = [
      summary.added.length ? `added ${summary.added.join(', ')}` : '',
      summary.removed.length ? `removed ${summary.removed.join(', ')}` : '',
      summary.reloaded.length ? `reloaded ${summary.reloaded.join(', ')}` : '',
      summary.failed.length ? `failed ${summary.failed.map((f) => f.name).join(', ')}` : '',
    ].filter(Boolean);
    log.info(`config applied${parts.length ? `: ${parts.join('; ')}` : ' (plugins unchanged, on_reload sent)'}`);
    return { ok: true, summary };
  }

  async function onBatch(batch: ChangeBatch): Promise<void> {
    if (closing) return;
    const reloaded = new Set<string>();
    if (batch.config) {
      const r = await applyConfigFile(false);
      if (r.ok) for (const n of [...r.summary.reloaded, ...r.summary.added]) reloaded.add(n);
    }
    for (const file of batch.wasm) {
      const name = plugins.pluginForPath(file);
      if (!name || reloaded.has(name)) continue;
      log.info(`${path.relative(process.cwd(), file) || file} changed: reloading plugin ${name}`);
      await plugins.reload(name);
      reloaded.add(name);
    }
    if (batch.wasm.size > 0) watcher?.update(watchTargets());
    if (batch.site.size > 0) {
      const n = cache.size;
      clearCache();
      log.info(`${batch.site.size} site file(s) changed: cache cleared (${n} entries), on_reload sent`);
      await plugins.notifyReload();
    }
  }

  const admin: AdminContext = {
    plugins: () => plugins.infos(),
    stats,
    beforeStats: () => plugins.flushDrops(),
    metrics: async () => {
      const lines = [
        '# HELP bext_http_responses_total Responses by cache status.',
        '# TYPE bext_http_responses_total counter',
        ...[...counters].map(([s, n]) => `bext_http_responses_total{cache_status="${s}"} ${n}`),
        '# HELP bext_cache_entries Entries in the response cache.',
        '# TYPE bext_cache_entries gauge',
        `bext_cache_entries ${cache.size}`,
        '# HELP bext_cache_bytes Bytes held by the response cache.',
        '# TYPE bext_cache_bytes gauge',
        `bext_cache_bytes ${cache.bytes}`,
        '# HELP bext_event_queue_pending Hook calls waiting in a plugin queue.',
        '# TYPE bext_event_queue_pending gauge',
        ...Object.entries(plugins.queueDepths()).map(([p, d]) => `bext_event_queue_pending{plugin="${p}"} ${d.pending}`),
        '# HELP bext_events_dropped_total Hook calls dropped because a plugin queue was full.',
        '# TYPE bext_events_dropped_total counter',
        ...Object.entries(plugins.queueDepths()).map(([p, d]) => `bext_events_dropped_total{plugin="${p}"} ${d.dropped}`),
      ];
      const fromPlugins = await metrics.render();
      return `${fromPlugins}${fromPlugins && !fromPlugins.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`;
    },
    invalidate,
    invalidateTag,
    reload: async () => {
      const r = await applyConfigFile(true);
      if (!r.ok) throw new HttpError(400, r.error.message, { details: r.error.details });
      return { ...r.summary, plugins: plugins.infos() };
    },
    status: () => ({
      name: 'bext',
      url: server.url,
      root: config.server.root,
      upstream: config.server.upstream,
      cache: { enabled: config.cache.enabled, entries: cache.size, bytes: cache.bytes },
      plugins: plugins.infos().map((p) => ({ name: p.name, state: p.state })),
      endpoints: ['GET plugins', 'GET stats', 'GET stats/NAME', 'GET metrics', 'POST cache/invalidate', 'POST reload'],
    }),
  };

  // --- start ------------------------------------------------------------------------------------
  const problems = await plugins.start(config.plugins, opts.onProgress);
  warnings.push(...problems);

  const httpServer = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => void onRequest(req, res));
  // Upgraded sockets (WebSockets, HMR) live outside the HTTP server's bookkeeping and stay
  // open indefinitely, so shutdown closes them explicitly.
  const upgraded = new Set<Duplex>();
  httpServer.on('upgrade', (req, socket, head) => {
    if (!proxy || closing) {
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    proxy.upgrade(req, socket, head);
  });
  httpServer.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  let closePromise: Promise<void> | null = null;
  async function shutdown(reason: string, listening: boolean): Promise<void> {
    closing = true;
    log.debug(`shutting down (${reason})`);
    await watcher?.close().catch(() => {});
    if (listening) {
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      for (const socket of upgraded) socket.destroy();
      if (active > 0) {
        const idle = new Promise<void>((resolve) => {
          idleWaiter = resolve;
        });
        const t = setTimeout(() => idleWaiter?.(), drainMs);
        await idle;
        clearTimeout(t);
      }
      httpServer.closeAllConnections();
      await closed;
    }
    if (!(await plugins.drain(drainMs))) {
      const left = Object.values(plugins.queueDepths()).reduce((n, d) => n + d.pending, 0);
      log.warn(`event queues did not drain within ${drainMs} ms; ${left} hook call(s) not delivered`);
    }
    await plugins.stop();
    await proxy?.close().catch(() => {});
    try {
      stats.flush();
    } finally {
      stats.close();
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(wantPort, host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await shutdown('listen failed', false).catch(() => {});
    throw listenError(err as NodeJS.ErrnoException, host, wantPort);
  }
  httpServer.on('error', (err) => log.error({ err }, 'HTTP server error'));
  const addr = httpServer.address();
  const port = typeof addr === 'object' && addr ? addr.port : wantPort;

  if (opts.watch !== false) {
    watcher = await createWatcher(watchTargets(), onBatch, { log });
    await watcher.ready;
  }

  const server: DevServer = {
    url: formatUrl(host, port),
    host,
    port,
    warnings,
    startMs: Math.round(performance.now() - started),
    config: () => config,
    plugins: () => plugins.infos(),
    close(reason = 'close'): Promise<void> {
      closePromise ??= shutdown(reason, true);
      return closePromise;
    },
  };
  return server;
}
