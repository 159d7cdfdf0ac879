/**
 * Reverse proxy to `server.upstream` through undici. Bodies stream both ways (nothing is
 * buffered here; the cache tees the response when it wants a copy). Hop-by-hop headers are
 * dropped in both directions; WebSocket upgrades (HMR of the app's own dev server) are piped
 * once the upstream has accepted them (upgrade.ts).
 *
 * The proxy only ever connects to the upstream's origin: it is handed a path already checked by
 * request-target.ts, and sends it as the path of a request to that origin, byte for byte (a path
 * such as `//other-host/x` stays a path; it is never resolved against anything).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent } from 'undici';
import { requestMethod } from './headers.js';
import { errorPage } from './pages.js';
import type { HeaderMap, OriginResponse } from './types.js';
import { pipeUpgrade } from './upgrade.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  // Not hop-by-hop by the RFC, but undici refuses it and bext never sends 100-continue.
  'expect',
]);

/** Removes hop-by-hop headers, including any named by the message's own Connection header. */
export function stripHopByHop(headers: Record<string, string | string[] | undefined>): HeaderMap {
  const named = new Set<string>();
  const conn = headers.connection;
  for (const v of Array.isArray(conn) ? conn : conn ? [conn] : []) {
    for (const name of v.split(',')) named.add(name.trim().toLowerCase());
  }
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const key = k.toLowerCase();
    if (HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = v;
  }
  return out;
}

function describe(err: unknown): { timeout: boolean; text: string } {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return { timeout: false, text: 'connection refused' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { timeout: false, text: 'the host name does not resolve' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return { timeout: false, text: 'the connection was reset' };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { timeout: true, text: 'connecting timed out' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { timeout: true, text: 'it sent no response headers in time' };
    default:
      return { timeout: false, text: e?.message ?? String(err) };
  }
}

export interface Proxy {
  readonly upstream: URL;
  /** Forwards a request; `pathAndQuery` is the checked target (request-target.ts), starting with `/`. */
  forward(req: IncomingMessage, pathAndQuery: string, signal: AbortSignal): Promise<OriginResponse>;
  /** Passes a protocol upgrade through (see upgrade.ts); `pathAndQuery` as for forward. */
  upgrade(req: IncomingMessage, pathAndQuery: string, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

// undici loads with the first proxy, not with the server: most dev servers only serve files.
const load = createRequire(import.meta.url);

export function createProxy(upstreamUrl: string, opts: { headersTimeoutMs?: number } = {}): Proxy {
  const upstream = new URL(upstreamUrl);
  const { Agent } = load('undici') as { Agent: typeof UndiciAgent };
  const agent = new Agent({
    keepAliveTimeout: 10_000,
    headersTimeout: opts.headersTimeoutMs ?? 60_000,
    bodyTimeout: 0,
    connect: { timeout: 10_000 },
  });
  const basePath = upstream.pathname.replace(/\/$/, '');

  function forwardedHeaders(req: IncomingMessage): HeaderMap {
    const headers = stripHopByHop(req.headers);
    delete headers.host;
    const peer = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}` : peer;
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = 'http';
    return headers;
  }

  async function forward(req: IncomingMessage, pathAndQuery: string, signal: AbortSignal): Promise<OriginResponse> {
    const method = requestMethod(req);
    const hasBody = method !== 'GET' && method !== 'HEAD' &&
      (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    try {
      if (!pathAndQuery.startsWith('/')) throw new Error(`refusing to forward the target ${pathAndQuery}`);
      // origin + path, never a URL parsed from the client's target: the connection goes to the
      // upstream's origin and nowhere else.
      const res = await agent.request({
        origin: upstream.origin,
        path: basePath + pathAndQuery,
        method: method as 'GET',
        headers: forwardedHeaders(req) as Record<string, string>,
        body: hasBody ? req : undefined,
        signal,
      });
      const headers = stripHopByHop(res.headers);
      const bodiless = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
      if (bodiless) res.body.resume();
      return { status: res.statusCode, headers, body: bodiless ? null : res.body };
    } catch (err) {
      const { timeout, text } = describe(err);
      const status = timeout ? 504 : 502;
      const body = errorPage(
        status,
        timeout ? 'Gateway Timeout' : 'Bad Gateway',
        `bext could not get a response from the upstream ${upstream.origin}: ${text}. Is your app's dev server running?`,
      );
      return {
        status,
        headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) },
        body: method === 'HEAD' ? null : body,
        unreachable: true,
      };
    }
  }

  function upgrade(req: IncomingMessage, pathAndQuery: string, socket: Duplex, head: Buffer): void {
    pipeUpgrade({ upstream, path: basePath + pathAndQuery, req, socket, head });
  }

  return {
    upstream,
    forward,
    upgrade,
    close: () => agent.close(),
  };
}
