/**
 * `permissions.allowed_urls`: which URLs a plugin may fetch. Each entry is parsed once into
 * scheme, host, port and path (keeping the original string for messages), then matched
 * component by component with picomatch. The rules (docs/permissions.md):
 *
 *   scheme  `http`, `https`, or `*` (either). Nothing else.
 *   host    a name or IP, lower-cased; `*` matches one or more characters within the host, so
 *           `*.example.com` matches every subdomain but not `example.com` itself; `*` alone is any
 *           host. IPv6 literals go in brackets and cannot contain globs.
 *   port    a number, `*`, or omitted = the scheme's default (80 / 443) only.
 *   path    a glob on the URL path (query and fragment are ignored): `*` matches within one
 *           segment, `**` across segments, and a trailing `/*` means everything under that path.
 *           Omitted = any path.
 *
 * An entry whose host has no `*` names that host literally. Naming an IP address (or
 * `localhost`) literally is what lets a plugin reach it on a loopback/private network; a DNS
 * name needs allow_private_networks for that (see address-policy.ts).
 */
import picomatch from 'picomatch';

export type Scheme = 'http' | 'https';

export interface AllowedUrl {
  /** The entry as written in the config. */
  readonly original: string;
  readonly schemes: readonly Scheme[];
  /** Normalised host or host glob; IPv6 in brackets as URL.hostname shows it. */
  readonly host: string;
  /** True when the host has no glob: it names one host exactly. */
  readonly hostIsLiteral: boolean;
  /** A port number, '*' for any, or null for the scheme's default. */
  readonly port: number | '*' | null;
  /** The path glob as matched (after normalisation). */
  readonly path: string;
  matches(url: URL): boolean;
}

export class AllowedUrlError extends Error {
  constructor(
    readonly entry: string,
    readonly problem: string,
  ) {
    super(
      `allowed_urls entry ${JSON.stringify(entry)}: ${problem}; expected scheme://host[:port][/path], ` +
        `e.g. "https://api.example.com/*", "https://*.example.com/*" or "http://127.0.0.1:4000/*" (see docs/permissions.md)`,
    );
    this.name = 'AllowedUrlError';
  }
}

export const DEFAULT_PORTS: Readonly<Record<Scheme, number>> = { http: 80, https: 443 };

const ENTRY = /^([A-Za-z*][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)?([?#].*)?$/;
const HOST_GLOB = /^[a-z0-9*_.-]+$/;
const GLOB_OPTS = { dot: true, nocase: true } as const;

/** The port a URL will connect to (explicit or the scheme's default). */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return DEFAULT_PORTS[url.protocol.replace(':', '') as Scheme] ?? 0;
}

function parseScheme(entry: string, raw: string): Scheme[] {
  const s = raw.toLowerCase();
  if (s === '*') return ['http', 'https'];
  if (s === 'http' || s === 'https') return [s];
  throw new AllowedUrlError(entry, `scheme "${raw}" is not supported (only http, https or *)`);
}

function parsePort(entry: string, raw: string | undefined): number | '*' | null {
  if (raw === undefined) return null;
  if (raw === '*') return '*';
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new AllowedUrlError(entry, `port "${raw}" must be 1-65535 or *`);
  }
  return Number(raw);
}

/** Splits `host[:port]` / `[v6][:port]` and normalises the host the way URL does. */
function parseAuthority(entry: string, authority: string): { host: string; literal: boolean; port: number | '*' | null } {
  if (authority === '') throw new AllowedUrlError(entry, 'the host is missing');
  if (authority.includes('@')) throw new AllowedUrlError(entry, 'user names and passwords are not allowed');
  let hostPart: string;
  let portPart: string | undefined;
  if (authority.startsWith('[')) {
    const m = /^(\[[0-9A-Fa-f:.]+\])(?::(.*))?$/.exec(authority);
    if (!m) throw new AllowedUrlError(entry, `"${authority}" is not a valid bracketed IPv6 address`);
    hostPart = m[1]!;
    portPart = m[2];
  } else {
    const i = authority.lastIndexOf(':');
    hostPart = i >= 0 ? authority.slice(0, i) : authority;
    portPart = i >= 0 ? authority.slice(i + 1) : undefined;
  }
  const port = parsePort(entry, portPart);
  const lower = hostPart.toLowerCase().replace(/\.$/, '');
  if (lower.includes('*')) {
    if (!HOST_GLOB.test(lower)) throw new AllowedUrlError(entry, `host "${hostPart}" has characters a host name cannot have`);
    if (lower.includes('**')) throw new AllowedUrlError(entry, `host "${hostPart}": use a single * (it already spans dots)`);
    return { host: lower, literal: false, port };
  }
  let host: string;
  try {
    host = new URL(`http://${hostPart}/`).hostname;
  } catch {
    throw new AllowedUrlError(entry, `host "${hostPart}" is not a valid host name or IP address`);
  }
  return { host: host.replace(/\.$/, ''), literal: true, port };
}

/** Normalises the path the way URL does (percent-encoding, dot segments) and applies the trailing-`/*` rule. */
function parsePath(entry: string, raw: string | undefined): string {
  if (raw === undefined || raw === '') return '/**';
  if (!raw.startsWith('/')) throw new AllowedUrlError(entry, 'the path must start with /');
  let path: string;
  try {
    path = new URL(`http://h${raw}`).pathname;
  } catch {
    throw new AllowedUrlError(entry, `path "${raw}" is not a valid URL path`);
  }
  return path.endsWith('/*') && !path.endsWith('**/*') ? `${path.slice(0, -1)}**` : path;
}

/** Parses one entry; throws AllowedUrlError naming the entry and the expected form. */
export function parseAllowedUrl(entry: string): AllowedUrl {
  const trimmed = entry.trim();
  const m = ENTRY.exec(trimmed);
  if (!m) {
    const problem = trimmed.includes('://') ? 'it is not a URL pattern' : 'the scheme is missing';
    throw new AllowedUrlError(entry, problem);
  }
  if (m[4] !== undefined) throw new AllowedUrlError(entry, 'query strings and fragments are not matched; remove them');
  const schemes = parseScheme(entry, m[1]!);
  const { host, literal, port } = parseAuthority(entry, m[2]!);
  const path = parsePath(entry, m[3]);
  const hostMatch = literal ? (h: string) => h === host : picomatch(host, GLOB_OPTS);
  const pathMatch = picomatch(path, GLOB_OPTS);

  return {
    original: entry,
    schemes,
    host,
    hostIsLiteral: literal,
    port,
    path,
    matches(url: URL): boolean {
      const scheme = url.protocol.slice(0, -1) as Scheme;
      if (!schemes.includes(scheme)) return false;
      const urlHost = url.hostname.toLowerCase().replace(/\.$/, '');
      if (urlHost === '' || urlHost.startsWith('.') || !hostMatch(urlHost)) return false;
      if (port !== '*' && effectivePort(url) !== (port ?? DEFAULT_PORTS[scheme])) return false;
      return pathMatch(url.pathname);
    },
  };
}

/** Parses every entry, collecting all problems (so config validation can show them together). */
export function parseAllowedUrls(entries: readonly string[]): AllowedUrl[] {
  const out: AllowedUrl[] = [];
  const problems: AllowedUrlError[] = [];
  for (const e of entries) {
    try {
      out.push(parseAllowedUrl(e));
    } catch (err) {
      if (err instanceof AllowedUrlError) problems.push(err);
      else throw err;
    }
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    const err = new AllowedUrlError(problems[0]!.entry, problems[0]!.problem);
    err.message = problems.map((p) => p.message).join('\n');
    throw err;
  }
  return out;
}

export interface UrlDecision {
  allowed: boolean;
  /** A matching entry names this URL's host literally (see address-policy.ts for what that opens). */
  literalHost: boolean;
}

/** Checks a URL against the parsed list; an empty list allows nothing. */
export function checkUrl(list: readonly AllowedUrl[], url: URL): UrlDecision {
  let allowed = false;
  let literalHost = false;
  for (const entry of list) {
    if (!entry.matches(url)) continue;
    allowed = true;
    if (entry.hostIsLiteral) literalHost = true;
  }
  return { allowed, literalHost };
}
