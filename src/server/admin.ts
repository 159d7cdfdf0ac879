/**
 * The admin API under `/__bext/`, answered only to loopback peers (judged by the socket's
 * address) that address bext by a loopback or configured name and come from no other origin;
 * state changes also need a JSON content type (admin-guard.ts). Every answer is JSON except
 * `/metrics` (Prometheus text). Errors are `{"error": "..."}` with a fitting status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PluginInfo } from '../runtime/types.js';
import type { StatsRecorder } from '../stats/index.js';
import { checkAdminClient, checkStateChange } from './admin-guard.js';
import { patternProblem } from './cache.js';

export const ADMIN_PREFIX = '/__bext/';
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

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') throw new HttpError(400, 'request body is empty; expected JSON such as {"pattern":"page:/blog/*"}');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** `?since=ISO` on the stats endpoints (what `bext plugin stats --since` sends). */
function sinceOf(req: IncomingMessage): { since?: number } {
  const raw = new URL(req.url ?? '/', 'http://localhost').searchParams.get('since');
  if (raw === null) return {};
  const t = Date.parse(raw);
  if (!Number.isFinite(t)) throw new HttpError(400, `since=${raw} is not an ISO date/time`);
  return { since: t };
}

type Route = { method: 'GET' | 'POST'; path: RegExp; run: (req: IncomingMessage, m: RegExpExecArray) => Promise<[number, unknown]> };

function routes(ctx: AdminContext): Route[] {
  return [
    { method: 'GET', path: /^$/, run: async () => [200, ctx.status()] },
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
        let name: string;
        try {
          name = decodeURIComponent(m[1]!);
        } catch {
          throw new HttpError(400, 'the plugin name is not valid percent-encoding');
        }
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
    send(res, 404, {
      error: `no admin endpoint /__bext/${clean}`,
      endpoints: ['GET plugins', 'GET stats', 'GET stats/NAME', 'GET metrics', 'POST cache/invalidate', 'POST reload'],
    });
    return;
  }
  const route = matching.find((r) => r.method === method);
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
    const [status, body] = await route.run(req, route.path.exec(clean)!);
    send(res, status, body);
  } catch (err) {
    if (err instanceof HttpError) send(res, err.status, { error: err.message, ...err.extra });
    else send(res, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
  }
}
