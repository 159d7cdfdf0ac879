/**
 * One HTTP request through the dev server: admin requests go to the admin API; site requests are
 * answered from the response cache, else from the origins (stale-if-error when the upstream is
 * down), stored when cacheable, and, once the response has closed, reported to the plugins as
 * an on_request_complete event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ADMIN_PREFIX, handleAdmin, type AdminContext } from './admin.js';
import { cacheKey, requestBypasses, storability, type CacheEntry } from './cache.js';
import type { ServerContext } from './context.js';
import { acceptsEncoding, joinedHeader, one, requestMethod } from './headers.js';
import { errorPage } from './pages.js';
import { eventLog } from '../runtime/event-log.js';
import { eventFields, eventJson, eventOf } from './request-event.js';
import { requestTarget } from './request-target.js';
import { etagMatches } from './validators.js';
import { sendableHead, withConnectionClose } from './entry-head.js';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { CacheStatus, HeaderMap, OriginResponse } from './types.js';

export interface RequestHandler {
  /** Answers one request; failures become a 500 page (or a destroyed socket once the head went out). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Responses not yet closed. */
  active(): number;
  /** Resolves when no response is open, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

/** What one request did, filled in as it goes; read once when the response closes. */
class RequestState {
  /**
   * performance.now() when timing began, -1 before: a HIT no plugin hears about reads no clock
   * but `ts` (clock reads are not free on every machine).
   */
  t0 = -1;
  /** When the request arrived (ms since the epoch); also the cache's "now" for this request. */
  readonly ts = Date.now();
  rawPath = '';
  search = '';
  /** ms from t0 to the response head. */
  ttfb = 0;
  cacheStatus: CacheStatus = 'BYPASS';
  bytes = 0;
  // writeHead(status, headers) does not make headers visible to getHeader(), so keep it here.
  encoding: string | undefined = undefined;
  /** A site request (admin requests produce no events). */
  site = false;
  abort: AbortController | null = null;
  /** Counted in active() and watched until it closes (track). */
  tracked = false;

  startClock(): void {
    this.t0 = performance.now();
  }

  /** The response head has been written. */
  headWritten(): void {
    if (this.t0 >= 0) this.ttfb = performance.now() - this.t0;
  }
}

/** What the cache lookup decided, for storing the origin's answer. */
interface Lookup {
  method: string;
  useCache: boolean;
  key: string;
  stale: CacheEntry | null;
}

export function createRequestHandler(ctx: ServerContext, admin: AdminContext): RequestHandler {
  const { plugins, cache, origins, metrics, log } = ctx;
  let active = 0;
  let idleWaiter: (() => void) | null = null;

  /**
   * Sends a cached entry (a HIT, or STALE when the origin is down) with the head made when it was
   * stored: a 304 when If-None-Match names its ETag, no body for HEAD. Returns the body bytes sent.
   */
  function serveEntry(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, status: CacheStatus, st: RequestState): number {
    const head = entry.head;
    const notModified = head.etag !== undefined && head.etag !== '' && etagMatches(joinedHeader(req, 'if-none-match'), head.etag);
    const age = Math.max(0, Math.floor((st.ts - entry.storedAt) / 1000));
    let list = sendableHead(head, notModified, age, status);
    if (ctx.closing) list = withConnectionClose(list);
    res.writeHead(notModified ? 304 : entry.status, list);
    st.headWritten();
    if (notModified || req.method === 'HEAD') {
      res.end();
      return 0;
    }
    res.end(entry.body);
    return entry.body.length;
  }

  /** Counts the response as active until it closes, then reports it to the plugins (finishRequest). */
  function track(req: IncomingMessage, res: ServerResponse, st: RequestState): void {
    if (st.t0 < 0) st.startClock();
    st.tracked = true;
    active++;
    res.on('close', () => finishRequest(req, res, st));
  }

  function finishRequest(req: IncomingMessage, res: ServerResponse, st: RequestState): void {
    active--;
    if (active === 0 && idleWaiter) idleWaiter();
    if (st.abort && !res.writableFinished) st.abort.abort();
    if (st.site && plugins.wantsEvents()) reportEvent(req, res, st);
  }

  /**
   * Hands the response's event to the plugins: written once into the event log, where each
   * plugin's worker reads it (an event the log cannot take goes to the queues as an object).
   */
  function reportEvent(req: IncomingMessage, res: ServerResponse, st: RequestState): void {
    const { server } = ctx.config;
    const fields = eventFields(req, st.rawPath, st.search, res.statusCode, st.cacheStatus, st.encoding, {
      ts: st.ts,
      renderUs: Math.round(st.ttfb * 1000),
      durationUs: Math.round((performance.now() - st.t0) * 1000),
      bytes: st.bytes,
    }, server);
    const seq = eventLog().append(fields);
    if (seq >= 0) plugins.pushLogged(seq);
    else plugins.pushEvent(eventOf(fields), eventJson);
  }

  /**
   * A fresh entry's answer. It is tracked (see track) only when the socket has not taken every
   * byte yet. Otherwise the response is complete here: its event (when a plugin wants it) is
   * reported at once, and a HIT costs no listener and no closure.
   */
  function serveHit(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, st: RequestState): void {
    st.cacheStatus = 'HIT';
    st.encoding = entry.head.encoding;
    metrics.countResponse('HIT');
    st.bytes = serveEntry(req, res, entry, 'HIT', st);
    if (!res.writableFinished) track(req, res, st);
    else if (plugins.wantsEvents()) reportEvent(req, res, st);
  }

  /** Answers a site request from the cache or the origins; a promise only when something is awaited. */
  function handleSite(req: IncomingMessage, res: ServerResponse, st: RequestState): void | Promise<void> {
    const { rawPath, search } = st;
    st.site = true;
    const method = requestMethod(req);
    const useCache =
      ctx.config.cache.enabled &&
      (method === 'GET' || method === 'HEAD') &&
      !requestBypasses(joinedHeader(req, 'cache-control'), joinedHeader(req, 'pragma'));
    let stale: CacheEntry | null = null;
    let key = '';
    if (useCache) {
      const entry = cache.store.lookupPage(rawPath, search);
      if (entry !== undefined && acceptsEncoding(req, entry.head.encoding)) {
        if (cache.store.isFresh(entry, st.ts)) {
          serveHit(req, res, entry, st);
          return;
        }
        stale = entry;
      }
      key = cacheKey(rawPath, search);
      st.cacheStatus = 'MISS';
    }
    track(req, res, st);

    // Only a request to the upstream can be aborted (when the client goes away): the controller
    // is made when one is sent.
    const signal = (): AbortSignal => (st.abort ??= new AbortController()).signal;
    const answer = origins.fetch(req, rawPath, search, signal);
    const lookup: Lookup = { method, useCache, key, stale };
    if (answer instanceof Promise) return answer.then((r) => respond(req, res, st, r, lookup));
    return respond(req, res, st, answer, lookup);
  }

  /** Sends what the origin answered (or a stale copy when it could not be reached), storing it when cacheable. */
  function respond(req: IncomingMessage, res: ServerResponse, st: RequestState, r: OriginResponse, lookup: Lookup): void | Promise<void> {
    const { method, useCache, key, stale } = lookup;
    if (r.unreachable && stale) {
      // stale-if-error: an expired copy beats an error page while the app restarts.
      if (r.body && !Buffer.isBuffer(r.body)) r.body.resume();
      st.cacheStatus = 'STALE';
      st.encoding = stale.head.encoding;
      metrics.countResponse('STALE');
      st.bytes = serveEntry(req, res, stale, 'STALE', st);
      return;
    }
    let store = false;
    if (useCache) {
      const verdict = storability(method, r.status, r.headers);
      if (verdict === 'bypass') st.cacheStatus = 'BYPASS';
      store = verdict === 'store' && r.body !== null;
    }
    metrics.countResponse(st.cacheStatus);
    st.encoding = one(r.headers['content-encoding']);
    // The origin's headers are this response's own object: a copy is stored, without what is added here.
    const stored = store ? { ...r.headers } : r.headers;
    const headers: HeaderMap = r.headers;
    headers['x-bext-cache'] = st.cacheStatus;
    if (ctx.closing) headers.connection = 'close';
    res.writeHead(r.status, headers);
    st.headWritten();
    if (r.body === null) {
      res.end();
      return;
    }
    if (Buffer.isBuffer(r.body)) {
      st.bytes = r.body.length;
      res.end(r.body);
      if (store) cache.save(key, r.status, stored, r.body);
      return;
    }
    return streamBody(res, st, r.body, store, key, r.status, stored);
  }

  /** Pipes a streamed body to the client, keeping a copy to store when it is cacheable and small enough. */
  async function streamBody(
    res: ServerResponse,
    st: RequestState,
    body: Readable,
    store: boolean,
    key: string,
    status: number,
    stored: HeaderMap,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    let keep = store;
    const limit = cache.store.maxEntryBytes;
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      st.bytes = bytes;
      if (!keep) return;
      if (bytes > limit) {
        keep = false;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    try {
      await pipeline(body, res);
      if (keep) cache.save(key, status, stored, Buffer.concat(chunks));
    } catch {
      // The client went away or the upstream broke mid-body; nothing is stored.
      res.destroy();
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const st = new RequestState();
    // Timed from arrival when its event is wanted; otherwise from track(), if it gets there.
    if (plugins.wantsEvents()) st.startClock();
    try {
      const target = requestTarget(ctx, req);
      // Site requests are tracked once the cache has been asked (handleSite), the others now.
      if (!target.ok) {
        track(req, res, st);
        const body = errorPage(400, 'Bad Request', target.reason);
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'x-bext-cache': 'BYPASS' });
        res.end(body);
        return;
      }
      const { path: rawPath, search } = target;
      if (rawPath === '/__bext' || rawPath.startsWith(ADMIN_PREFIX)) {
        track(req, res, st);
        handleAdminRequest(req, res, rawPath).catch((err: unknown) => failed(req, res, err));
        return;
      }
      st.rawPath = rawPath;
      st.search = search;
      const done = handleSite(req, res, st);
      if (done !== undefined) done.catch((err: unknown) => failed(req, res, err));
    } catch (err) {
      if (!st.tracked) track(req, res, st);
      failed(req, res, err);
    }
  }

  async function handleAdminRequest(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
    await ctx.started;
    await handleAdmin(req, res, rawPath.slice(ADMIN_PREFIX.length), admin);
  }

  function failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    log.error({ err }, `request ${req.method} ${req.url} failed`);
    if (!res.headersSent) {
      const body = errorPage(500, 'Internal Server Error', `bext failed to answer this request: ${(err as Error)?.message ?? err}`);
      res.writeHead(500, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'x-bext-cache': 'BYPASS' });
      res.end(body);
    } else res.destroy();
  }

  async function idle(timeoutMs: number): Promise<void> {
    if (active === 0) return;
    const done = new Promise<void>((resolve) => {
      idleWaiter = resolve;
    });
    const t = setTimeout(() => idleWaiter?.(), timeoutMs);
    await done;
    clearTimeout(t);
  }

  return { handle, active: () => active, idle };
}
