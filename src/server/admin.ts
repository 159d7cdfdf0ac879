/**
 * The admin API under `/__bext/`, answered only to loopback peers (judged by the socket's
 * address) that address bext by a loopback or configured name and come from no other origin;
 * state changes also need a JSON content type (admin-guard.ts). Every answer is JSON except
 * `/metrics` (Prometheus text), `/events` (Server-Sent Events) and the dashboard page:
 * `GET /__bext/` answers the page to a client that asks for HTML (a browser) and the JSON
 * overview to everyone else (curl, scripts, the CLI), so the JSON routes keep their shape.
 * Errors are `{"error": "..."}` with a fitting status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PluginInfo } from '../runtime/types.js';
import type { StatsRecorder } from '../stats/index.js';
import { checkAdminClient, checkStateChange } from './admin-guard.js';
import { patternProblem } from './cache.js';
import { dashboardAsset, dashboardPage, type DashboardAsset } from './dashboard-assets.js';
import type { DashboardView } from './dashboard-view.js';
import type { LiveFeed } from './live-feed.js';
import type { LiveReload } from './live-reload.js';
import type { FailureRecord } from './plugin-history.js';

export const ADMIN_PREFIX = '/__bext/';
export const ADMIN_ENDPOINTS = [
  'GET plugins',
  'GET stats',
  'GET stats/NAME',
  'GET metrics',
  'GET dashboard',
  'GET failures',
  'GET events',
  'GET live-reload',
  'POST cache/invalidate',
  'POST reload',
  'POST plugins/NAME/reload',
  'POST stats/reset',
];
const MAX_BODY = 64 * 1024;

export interface AdminContext {
  /** The host bext listens on: besides loopback names, the one Host the admin API accepts. */
  listenHost: string;
  plugins(): PluginInfo[];
  stats: StatsRecorder;
  /** Brings stats up to date (counted drops) before they are read. */
  beforeStats?(): void;
  metrics(): Promise<string>;
  /** Removes matching cache entries, runs on_cache_invalidate, returns how many were removed. */
  invalidate(pattern: string): number;
  /** Removes the entries carrying a tag; runs on_cache_invalidate("tag:<tag>", count). */
  invalidateTag(tag: string): number;
  /** Re-reads the config and reloads every plugin; throws HttpError(400) for an invalid config. */
  reload(): Promise<unknown>;
  /** Overview for `GET /__bext/`. */
  status(): Record<string, unknown>;
  /** Everything the dashboard page draws (`GET /__bext/dashboard`). */
  dashboard(): DashboardView;
  failures(plugin?: string): FailureRecord[];
  /** The live event stream (`GET /__bext/events`). */
  events: LiveFeed;
  /** Reloads one plugin from its file and config; the old version keeps serving when the new one fails. */
  reloadPlugin(name: string): Promise<{ ok: boolean; error?: string }>;
  /** Clears live and persisted stats of one plugin, or all. */
  resetStats(plugin?: string): void;
  /** Browser live reload: the event stream and its client script. */
  liveReload?: Pick<LiveReload, 'stream' | 'script'>;
  /** Reads a dashboard asset (tests may point this elsewhere). */
  asset?(name: string): DashboardAsset | null;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-bext-cache': 'BYPASS',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/**
 * The dashboard's own files: scripts, styles and connections only from bext itself, never framed
 * (its buttons change state), no referrer leaves it.
 */
const csp = (scripts = "'self'", styles = "'self'"): string =>
  `default-src 'none'; script-src ${scripts}; style-src ${styles}; connect-src 'self'; img-src 'self' data:; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  'content-security-policy': csp(),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function sendAsset(res: ServerResponse, asset: DashboardAsset | null, name: string): void {
  if (!asset) {
    send(res, 500, { error: `dashboard asset ${name} is missing from this install; \`npm run build\` copies src/server/dashboard into dist` });
    return;
  }
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': asset.body.length,
    'cache-control': 'no-store',
    'x-bext-cache': 'BYPASS',
    ...PAGE_HEADERS,
  });
  res.end(res.req.method === 'HEAD' ? undefined : asset.body);
}

/** The dashboard page with its code inlined and the first view embedded (dashboard-assets.ts). */
function sendPage(res: ServerResponse, ctx: AdminContext): void {
  ctx.beforeStats?.();
  const page = dashboardPage(ctx.dashboard(), (name) => ASSET(ctx, name));
  if (!page) {
    sendAsset(res, null, 'index.html');
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': page.body.length,
    'cache-control': 'no-store',
    'x-bext-cache': 'BYPASS',
    ...PAGE_HEADERS,
    'content-security-policy': csp(`'self' ${page.scriptHash}`, `'self' ${page.styleHash}`),
  });
  res.end(res.req.method === 'HEAD' ? undefined : page.body);
}

/** True when the client would rather have HTML than JSON (a browser navigating to /__bext/). */
function wantsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return /\btext\/html\b/i.test(accept) && new URL(req.url ?? '/', 'http://localhost').searchParams.get('format') !== 'json';
}

function pluginName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'the plugin name is not valid percent-encoding');
  }
}

/** The request body as trimmed text, refused past MAX_BODY bytes. */
async function readBodyText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** An optional JSON object body (`{}` or empty is fine for actions without arguments). */
async function readOptionalObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBodyText(req);
  if (text === '') return {};
  const v = parseJsonBody(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'expected a JSON object');
  return v as Record<string, unknown>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBodyText(req);
  if (text === '') throw new HttpError(400, 'request body is empty; expected JSON such as {"pattern":"page:/blog/*"}');
  return parseJsonBody(text);
}

/** `?since=ISO` on the stats endpoints (what `bext plugin stats --since` sends). */
function sinceOf(req: IncomingMessage): { since?: number } {
  const raw = new URL(req.url ?? '/', 'http://localhost').searchParams.get('since');
  if (raw === null) return {};
  const t = Date.parse(raw);
  if (!Number.isFinite(t)) throw new HttpError(400, `since=${raw} is not an ISO date/time`);
  return { since: t };
}

/** A route answers JSON through `run`, or writes the response itself through `serve`. */
type Route = {
  method: 'GET' | 'POST';
  path: RegExp;
  run?: (req: IncomingMessage, m: RegExpExecArray) => Promise<[number, unknown]>;
  serve?: (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray) => void;
  /** Only when this holds (content negotiation); else the next matching route. */
  when?: (req: IncomingMessage) => boolean;
};

/** The live-reload routes, or null after answering 404 when this server has none. */
function liveReloadRoute(ctx: AdminContext, res: ServerResponse): Pick<LiveReload, 'stream' | 'script'> | null {
  if (!ctx.liveReload) send(res, 404, { error: 'this server has no live reload' });
  return ctx.liveReload ?? null;
}

const ASSET = (ctx: AdminContext, name: string): DashboardAsset | null => (ctx.asset ?? dashboardAsset)(name);

function routes(ctx: AdminContext): Route[] {
  return [
    { method: 'GET', path: /^$/, when: wantsHtml, serve: (_req, res) => sendPage(res, ctx) },
    { method: 'GET', path: /^$/, run: async () => [200, ctx.status()] },
    {
      method: 'GET',
      path: /^assets\/(dashboard\.(?:js|css))$/,
      serve: (_req, res, m) => sendAsset(res, ASSET(ctx, m[1]!), m[1]!),
    },
    {
      method: 'GET',
      path: /^dashboard$/,
      run: async () => {
        ctx.beforeStats?.();
        return [200, ctx.dashboard()];
      },
    },
    {
      method: 'GET',
      path: /^failures$/,
      run: async (req) => {
        const plugin = new URL(req.url ?? '/', 'http://localhost').searchParams.get('plugin') ?? undefined;
        return [200, { failures: ctx.failures(plugin) }];
      },
    },
    { method: 'GET', path: /^events$/, serve: (req, res) => ctx.events.subscribe(req, res) },
    { method: 'GET', path: /^live-reload$/, serve: (req, res) => liveReloadRoute(ctx, res)?.stream(req, res) },
    { method: 'GET', path: /^live-reload\.js$/, serve: (req, res) => liveReloadRoute(ctx, res)?.script(req, res) },
    {
      method: 'POST',
      path: /^plugins\/([^/]+)\/reload$/,
      run: async (req, m) => {
        const name = pluginName(m[1]!);
        await readOptionalObject(req);
        if (!ctx.plugins().some((p) => p.name === name)) {
          throw new HttpError(404, `no plugin named "${name}"`, { known: ctx.plugins().map((p) => p.name) });
        }
        const r = await ctx.reloadPlugin(name);
        const plugin = ctx.plugins().find((p) => p.name === name) ?? null;
        return [r.ok ? 200 : 409, { plugin: name, ok: r.ok, ...(r.error ? { error: r.error } : {}), info: plugin }];
      },
    },
    {
      method: 'POST',
      path: /^stats\/reset$/,
      run: async (req) => {
        const body = await readOptionalObject(req);
        const plugin = body.plugin;
        if (plugin !== undefined && (typeof plugin !== 'string' || plugin === '')) {
          throw new HttpError(400, '"plugin" must be a plugin name, or absent to reset every plugin');
        }
        ctx.resetStats(plugin as string | undefined);
        return [200, { reset: plugin ?? null }];
      },
    },
    { method: 'GET', path: /^plugins$/, run: async () => [200, ctx.plugins()] },
    {
      method: 'GET',
      path: /^stats$/,
      run: async (req) => {
        ctx.beforeStats?.();
        return [200, ctx.stats.snapshot(undefined, sinceOf(req))];
      },
    },
    {
      method: 'GET',
      path: /^stats\/([^/]+)$/,
      run: async (req, m) => {
        const name = pluginName(m[1]!);
        const known = new Set([...ctx.plugins().map((p) => p.name), ...ctx.stats.plugins()]);
        if (!known.has(name)) {
          throw new HttpError(404, `no plugin named "${name}"`, { known: [...known].sort() });
        }
        ctx.beforeStats?.();
        return [200, ctx.stats.snapshot(name, sinceOf(req))];
      },
    },
    { method: 'GET', path: /^metrics$/, run: async () => [200, await ctx.metrics()] },
    {
      method: 'POST',
      path: /^cache\/invalidate$/,
      run: async (req) => {
        const body = await readJson(req);
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          throw new HttpError(400, 'expected a JSON object such as {"pattern":"page:/blog/*"}');
        }
        const obj = body as Record<string, unknown>;
        if (obj.tag !== undefined && obj.pattern === undefined) {
          if (typeof obj.tag !== 'string' || obj.tag.trim() === '') {
            throw new HttpError(400, '"tag" must be a non-empty string, e.g. {"tag":"blog"}');
          }
          return [200, { tag: obj.tag, removed: ctx.invalidateTag(obj.tag) }];
        }
        const pattern = obj.pattern;
        const problem = patternProblem(pattern);
        if (problem) throw new HttpError(400, problem);
        return [200, { pattern, removed: ctx.invalidate(pattern as string) }];
      },
    },
    { method: 'POST', path: /^reload$/, run: async () => [200, await ctx.reload()] },
  ];
}

/** Answers one admin request. `path` is the part after `/__bext/`, without the query. */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, ctx: AdminContext): Promise<void> {
  const refused = checkAdminClient(req, ctx.listenHost);
  if (refused) {
    send(res, refused.status, { error: refused.error });
    return;
  }
  const clean = path.replace(/\/+$/, '');
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  const matching = routes(ctx).filter((r) => r.path.test(clean));
  if (matching.length === 0) {
    send(res, 404, { error: `no admin endpoint /__bext/${clean}`, endpoints: ADMIN_ENDPOINTS });
    return;
  }
  const route = matching.find((r) => r.method === method && (!r.when || r.when(req)));
  if (!route) {
    const allow = [...new Set(matching.map((r) => r.method))].join(', ');
    send(res, 405, { error: `/__bext/${clean} accepts ${allow}, not ${req.method}` }, { allow });
    return;
  }
  if (route.method !== 'GET') {
    const unsafe = checkStateChange(req);
    if (unsafe) {
      // The body is not read: let the connection close rather than parse what is left of it.
      send(res, unsafe.status, { error: unsafe.error }, { connection: 'close' });
      return;
    }
  }
  try {
    const m = route.path.exec(clean)!;
    if (route.serve) {
      route.serve(req, res, m);
      return;
    }
    const [status, body] = await route.run!(req, m);
    send(res, status, body);
  } catch (err) {
    if (err instanceof HttpError) send(res, err.status, { error: err.message, ...err.extra });
    else send(res, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
  }
}
