/**
 * Reverse proxy to `server.upstream` through undici. Bodies stream both ways (nothing is
 * buffered here; the cache tees the response when it wants a copy). Hop-by-hop headers are
 * dropped in both directions; WebSocket upgrades (HMR of the app's own dev server) are piped.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { Agent, request } from 'undici';
import { errorPage } from './pages.js';
import type { HeaderMap, OriginResponse } from './types.js';

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
  forward(req: IncomingMessage, signal: AbortSignal): Promise<OriginResponse>;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

export function createProxy(upstreamUrl: string, opts: { headersTimeoutMs?: number } = {}): Proxy {
  const upstream = new URL(upstreamUrl);
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

  async function forward(req: IncomingMessage, signal: AbortSignal): Promise<OriginResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    const target = new URL(basePath + (req.url ?? '/'), upstream.origin);
    const hasBody = method !== 'GET' && method !== 'HEAD' &&
      (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    try {
      const res = await request(target, {
        method: method as 'GET',
        headers: forwardedHeaders(req) as Record<string, string>,
        body: hasBody ? req : undefined,
        dispatcher: agent,
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

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const secure = upstream.protocol === 'https:';
    const port = Number(upstream.port || (secure ? 443 : 80));
    const host = upstream.hostname.replace(/^\[|\]$/g, '');
    const up = secure ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
    const fail = (): void => {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      socket.destroy();
      up.destroy();
    };
    up.once('error', fail);
    up.once(secure ? 'secureConnect' : 'connect', () => {
      up.off('error', fail);
      const lines = [`${req.method} ${basePath + (req.url ?? '/')} HTTP/1.1`, `host: ${upstream.host}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        if (name.toLowerCase() === 'host') continue;
        lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
      // HTTP server sockets allow half-open connections; a tunnel does not: when one side
      // finishes, finish both so neither socket lingers.
      socket.once('end', () => {
        up.end();
        socket.end();
      });
      up.once('end', () => {
        socket.end();
        up.end();
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      up.on('close', () => socket.destroy());
      socket.on('close', () => up.destroy());
    });
  }

  return {
    upstream,
    forward,
    upgrade,
    close: () => agent.close(),
  };
}
