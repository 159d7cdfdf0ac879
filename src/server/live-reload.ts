/**
 * Browser live reload for pages served from `server.root`: the watcher reports changed site
 * files (reload.ts, after the response cache was cleared), this module waits until the burst is
 * over and sends one `change` event to every open page over Server-Sent Events
 * (`GET /__bext/live-reload`). Pages get the client through a tag injected into their HTML
 * (static.ts, html-inject.ts, live-reload-client.ts).
 *
 * Live reload is on when `server.live_reload` is true (the default) and files are watched: with
 * `--no-watch` nothing would ever be sent, so pages are not injected and the routes answer 404.
 * The stream says only that something changed (and whether only stylesheets did); it is an
 * admin route all the same, behind admin-guard.ts (loopback peer, Host, Origin), and never
 * goes through the response cache.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { EVENT_STREAM_HEADERS, openEventStream } from './event-stream.js';
import { htmlInjection, type HtmlInjection } from './html-inject.js';
import { LIVE_RELOAD_CLIENT, LIVE_RELOAD_TAG } from './live-reload-client.js';

/** Quiet time after the last change before pages are told; an editor's save is several writes. */
const DEBOUNCE_MS = 50;
const RETRY_MS = 1_000;

export type ChangeKind = 'css' | 'page';

export interface LiveReload {
  /** What to inject into static HTML now; null when live reload is off. */
  injection(): HtmlInjection | null;
  /** Site files changed (and the cache no longer holds their old versions). */
  siteChanged(files: Iterable<string>): void;
  /** `GET /__bext/live-reload`: takes over `res` as an event stream. */
  stream(req: IncomingMessage, res: ServerResponse): void;
  /** `GET /__bext/live-reload.js`. */
  script(req: IncomingMessage, res: ServerResponse): void;
  subscribers(): number;
  /** Ends every stream (at shutdown) and cancels a pending event. */
  close(): void;
}

export interface LiveReloadOptions {
  /** Whether live reload is on now (the config can change while bext runs). */
  enabled(): boolean;
  debounceMs?: number;
}

/** `css` when every changed file is a stylesheet (pages can swap them without reloading). */
export function changeKind(files: Iterable<string>): ChangeKind {
  let any = false;
  for (const f of files) {
    any = true;
    if (path.extname(f).toLowerCase() !== '.css') return 'page';
  }
  return any ? 'css' : 'page';
}

function refuse(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error }) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-bext-cache': 'BYPASS',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const OFF = 'live reload is off (server.live_reload = false, or bext dev runs with --no-watch)';

export function createLiveReload(opts: LiveReloadOptions): LiveReload {
  const injection = htmlInjection(LIVE_RELOAD_TAG);
  const script = Buffer.from(LIVE_RELOAD_CLIENT);
  // Lets a page that reconnects after a restart notice that it talks to a new server.
  const serverId = randomBytes(8).toString('hex');
  const debounceMs = opts.debounceMs ?? DEBOUNCE_MS;
  const subs = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let pending: ChangeKind | null = null;
  let nextId = 1;
  let closed = false;

  function send(): void {
    timer = null;
    const kind = pending ?? 'page';
    pending = null;
    if (!opts.enabled()) return;
    const frame = `id: ${nextId++}\nevent: change\ndata: ${JSON.stringify({ kind })}\n\n`;
    for (const res of subs) res.write(frame);
  }

  return {
    injection: () => (opts.enabled() ? injection : null),
    siteChanged(files) {
      if (closed) return;
      const kind = changeKind(files);
      pending = pending === 'page' || kind === 'page' ? 'page' : 'css';
      if (timer) clearTimeout(timer);
      timer = setTimeout(send, debounceMs);
    },
    stream(req, res) {
      if (closed) {
        refuse(res, 503, 'shutting down');
        return;
      }
      if (!opts.enabled()) {
        refuse(res, 404, OFF);
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, EVENT_STREAM_HEADERS).end();
        return;
      }
      openEventStream(req, res, { retryMs: RETRY_MS, onClose: () => subs.delete(res) });
      res.write(`event: hello\ndata: ${JSON.stringify({ server: serverId })}\n\n`);
      subs.add(res);
    },
    script(req, res) {
      if (!opts.enabled()) {
        refuse(res, 404, OFF);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'content-length': script.length,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-bext-cache': 'BYPASS',
      });
      res.end(req.method === 'HEAD' ? undefined : script);
    },
    subscribers: () => subs.size,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const res of subs) res.end();
      subs.clear();
    },
  };
}
