/**
 * Who may use the admin API, checked before any route runs. The peer address alone is not enough:
 * a web page in the user's own browser is a loopback peer too. So, as Vite and webpack-dev-server
 * do for their own endpoints:
 *
 * 1. the socket's peer is loopback (never judged by headers such as X-Forwarded-For);
 * 2. the Host header names this machine (localhost, *.localhost, a loopback literal) or the host
 *    bext was told to listen on: a page on a rebinding DNS name (evil.example → 127.0.0.1) sends
 *    its own name, and is refused, so it cannot read stats, plugin paths or metrics;
 * 3. an Origin header, when sent, is bext's own origin (same scheme, host and port as the Host):
 *    other pages, other localhost ports and `Origin: null` are refused;
 * 4. state changes (any method but GET/HEAD) need `Content-Type: application/json`, which a
 *    page on another origin cannot send without a CORS preflight that bext never grants (no
 *    Access-Control-Allow-* header is ever sent); text/plain, form and multipart posts are 415.
 *    Fetch metadata (`Sec-Fetch-Site` other than same-origin/none) refuses them too.
 *
 * Same-origin pages pass: a dashboard served under /__bext/ calls the API with fetch() and a JSON
 * content type. The CLI (bext plugin stats/list) sends plain GETs with a loopback Host.
 */
import type { IncomingMessage } from 'node:http';
import { isLoopbackAddress } from './loopback.js';
import { bareHost, isLoopbackName, splitAuthority } from './request-target.js';

export interface AdminRefusal {
  status: number;
  error: string;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The Host header's host:port as an origin's host would spell it (lowercase, no default port). */
function normalHost(host: string): string | null {
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return null;
  }
}

/** True when `hostHeader` names this machine or the host bext listens on (not a wildcard). */
export function isAllowedAdminHost(hostHeader: string | undefined, listenHost: string): boolean {
  if (!hostHeader) return false;
  const a = splitAuthority(hostHeader);
  if (!a) return false;
  if (isLoopbackName(a.host)) return true;
  const own = bareHost(listenHost);
  return !WILDCARD_HOSTS.has(own) && bareHost(a.host) === own;
}

/** True when the Origin is bext's own (http, same host and port as the Host header). */
export function isOwnOrigin(origin: string, hostHeader: string): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && u.host === normalHost(hostHeader);
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Checks 1–3 (every admin request); null when the request may proceed. */
export function checkAdminClient(req: IncomingMessage, listenHost: string): AdminRefusal | null {
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    return { status: 403, error: 'the bext admin API only answers loopback clients (127.0.0.0/8, ::1)' };
  }
  const host = one(req.headers.host);
  if (!isAllowedAdminHost(host, listenHost)) {
    return {
      status: 403,
      error:
        `the bext admin API only answers requests addressed to localhost, a loopback address or the configured host ` +
        `(Host: ${host ?? '(none)'} is refused, so that a web page on another name cannot reach it through DNS rebinding)`,
    };
  }
  const origin = one(req.headers.origin);
  if (origin !== undefined && !isOwnOrigin(origin, host!)) {
    return { status: 403, error: `the bext admin API does not answer pages from another origin (Origin: ${origin})` };
  }
  return null;
}

/** Check 4 (state-changing requests); null when the request may proceed. */
export function checkStateChange(req: IncomingMessage): AdminRefusal | null {
  const site = one(req.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, error: `the bext admin API does not take changes from another site (Sec-Fetch-Site: ${site})` };
  }
  const type = one(req.headers['content-type']);
  if (!isJson(type)) {
    return {
      status: 415,
      error:
        `${req.method} ${req.url} needs "Content-Type: application/json" (got ${type ? `"${type}"` : 'none'}); ` +
        `e.g. curl -X POST -H 'content-type: application/json' -d '{}' ...`,
    };
  }
  return null;
}
