/**
 * Turns a request target into the path bext serves, without ever letting the target choose a
 * host. bext is a reverse proxy, never a forward one:
 *
 * - origin-form (`/x?y`) is kept byte for byte, including `//host/...` and `/\host/...`: those
 *   are paths (on the static root, or on the upstream, where the proxy sends them verbatim);
 * - absolute-form (`http://host:port/x`) is accepted only when its authority is bext itself (a
 *   loopback name, the configured host, or the address the connection arrived on, with the port
 *   it arrived on) and is then served as its path; any other authority is a 400;
 * - anything else (asterisk-form, a bare authority) is a 400.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { ServerContext } from './context.js';
import { isLoopbackAddress } from './loopback.js';

export type Target = { ok: true; path: string; search: string } | { ok: false; reason: string };

/** Where the connection arrived, and the host name bext was configured with. */
export interface OwnAuthority {
  /** The configured `server.host` (or `--host`). */
  host: string;
  /** req.socket.localAddress / localPort. */
  localAddress: string | undefined;
  localPort: number | undefined;
}

export function ownAuthority(ctx: ServerContext, req: IncomingMessage): OwnAuthority {
  return { host: ctx.listenHost, localAddress: req.socket.localAddress, localPort: req.socket.localPort };
}

/** undici refuses a path with bytes outside 0x21–0xff (the request line could not carry them). */
const BAD_PATH_CHAR = /[^\u0021-\u00ff]/;

function splitQuery(pathAndQuery: string): Target {
  const q = pathAndQuery.indexOf('?');
  return q < 0 ? { ok: true, path: pathAndQuery, search: '' } : { ok: true, path: pathAndQuery.slice(0, q), search: pathAndQuery.slice(q) };
}

/** A host part (no port, no brackets) as written in a Host header or URL authority. */
export function bareHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h.replace(/\.$/, '');
}

/** Names that always mean "this machine": localhost, *.localhost and loopback IP literals. */
export function isLoopbackName(host: string): boolean {
  const h = bareHost(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return isIP(h) !== 0 && isLoopbackAddress(h);
}

/** Splits `host[:port]` / `[v6][:port]`; null when it is not of that form. */
export function splitAuthority(authority: string): { host: string; port: number | null } | null {
  const m = /^(\[[0-9a-fA-F:.%]+\]|[^:[\]@/\\]+)(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  return { host: m[1]!, port };
}

function isOwnAuthority(authority: string, own: OwnAuthority): boolean {
  const a = splitAuthority(authority);
  if (!a) return false;
  if ((a.port ?? 80) !== own.localPort) return false;
  const h = bareHost(a.host);
  if (isLoopbackName(h)) return true;
  if (h === bareHost(own.host)) return true;
  return own.localAddress !== undefined && isIP(h) !== 0 && h === bareHost(own.localAddress).replace(/^::ffff:/, '');
}

/** An origin-form target (`/x?y`): kept as it is unless a path could not carry it. */
function originForm(url: string): Target {
  if (BAD_PATH_CHAR.test(url)) return { ok: false, reason: 'the request target contains characters a path cannot carry' };
  return splitQuery(url);
}

/** `own` is asked for only when the target is in absolute form (a request path needs no authority). */
export function parseTarget(url: string, own: () => OwnAuthority): Target {
  if (url.startsWith('/')) return originForm(url);
  const m = /^http:\/\/([^/?#]*)([/?][^#]*)?$/i.exec(url);
  if (!m) {
    return { ok: false, reason: 'the request target must be a path (bext is not a forward proxy)' };
  }
  const authority = m[1]!;
  if (!isOwnAuthority(authority, own())) {
    return { ok: false, reason: `bext is not a forward proxy: it does not forward requests for ${authority || 'an empty host'}` };
  }
  const rest = m[2] ?? '/';
  const pathAndQuery = rest.startsWith('?') ? `/${rest}` : rest;
  if (BAD_PATH_CHAR.test(pathAndQuery)) return { ok: false, reason: 'the request target contains characters a path cannot carry' };
  return splitQuery(pathAndQuery);
}

/**
 * parseTarget for a request that arrived on `ctx`'s server. The function that finds the
 * connection's own authority is made only for an absolute-form target, so the usual request
 * (a path) allocates no closure.
 */
export function requestTarget(ctx: ServerContext, req: IncomingMessage): Target {
  const url = req.url ?? '/';
  return url.startsWith('/') ? originForm(url) : parseTarget(url, () => ownAuthority(ctx, req));
}
