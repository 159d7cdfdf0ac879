/** The on_request_complete event of one finished response: its fields for the event log, its object and its JSON. */
import type { IncomingMessage } from 'node:http';
import type { EventFields } from '../runtime/event-log.js';
import type { CacheStatus, RequestEvent } from './types.js';

// Crawlers, link unfurlers, monitors and headless browsers identify themselves with these words.
const BOT_RE =
  /bot\b|bot\/|crawl|spider|slurp|mediapartners|facebookexternalhit|facebookcatalog|embedly|quora link preview|outbrain|pinterest|vkshare|w3c_validator|whatsapp|headlesschrome|phantomjs|lighthouse|pingdom|uptimerobot|statuscake|bingpreview|yandex|baiduspider|duckduckgo|applebot|semrush|ahrefs|mj12bot|petalbot|bytespider|gptbot|ccbot|claudebot|perplexity/i;

// Most traffic repeats one user agent (one browser, one load generator): remember the last answer.
let lastUa = '';
let lastIsBot = false;

export function isBot(userAgent: string): boolean {
  if (userAgent === lastUa) return lastIsBot;
  lastUa = userAgent;
  lastIsBot = userAgent !== '' && BOT_RE.test(userAgent);
  return lastIsBot;
}

export interface EventTiming {
  ts: number;
  renderUs: number;
  durationUs: number;
  bytes: number;
}

/** What JSON.stringify escapes in a string: quote, backslash, control characters, and surrogates (lone ones). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
// Most values (paths, methods, user agents) need no escaping: quoting them as they are costs far
// less than a JSON.stringify call each.
const str = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
const nullable = (s: string | null): string => (s === null ? 'null' : str(s));

/**
 * The event as JSON.stringify writes it, byte for byte (same keys, same order), in about two
 * thirds of its time: one event is serialized for every response while plugins listen.
 */
export function eventJson(e: RequestEvent): string {
  return (
    `{"path":${str(e.path)},"query":${str(e.query)},"method":${str(e.method)},"status":${num(e.status)},` +
    `"cache_status":${str(e.cache_status)},"render_time_us":${num(e.render_time_us)},"duration_us":${num(e.duration_us)},` +
    `"bytes":${num(e.bytes)},"tenant_id":${nullable(e.tenant_id)},"site_id":${nullable(e.site_id)},"encoding":${str(e.encoding)},` +
    `"is_bot":${e.is_bot ? 'true' : 'false'},"user_agent":${str(e.user_agent)},"referer":${nullable(e.referer)},"ts":${num(e.ts)}}`
  );
}

/**
 * The event's fields for the event log (runtime/event-log.ts), read from `req.rawHeaders` in one
 * pass, with the values `req.headers` would give (a HIT does not make node build `req.headers`). Returns one
 * object reused for every request: it is read at once.
 */
export function eventFields(
  req: IncomingMessage,
  rawPath: string,
  search: string,
  status: number,
  cacheStatus: CacheStatus,
  encoding: string | undefined,
  timing: EventTiming,
  ids: { tenant_id: string | null; site_id: string | null },
): EventFields {
  const raw = req.rawHeaders;
  let ua: string | undefined;
  let referer: string | undefined;
  let tenant: string | undefined;
  let site: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // As req.headers has them: node keeps the first User-Agent and Referer and joins repeats of others with ", ".
    switch (name.length) {
      case 10:
        if (ua === undefined && name.toLowerCase() === 'user-agent') ua = raw[i + 1]!;
        break;
      case 7:
        if (referer === undefined && name.toLowerCase() === 'referer') referer = raw[i + 1]!;
        break;
      case 13:
        if (name.toLowerCase() === 'x-bext-tenant') tenant = tenant === undefined ? raw[i + 1]! : `${tenant}, ${raw[i + 1]!}`;
        break;
      case 11:
        if (name.toLowerCase() === 'x-bext-site') site = site === undefined ? raw[i + 1]! : `${site}, ${raw[i + 1]!}`;
        break;
    }
  }
  const f = FIELDS;
  const agent = present(ua) ?? '';
  f.path = rawPath;
  f.query = search.startsWith('?') ? search.slice(1) : search;
  f.method = req.method ?? 'GET';
  f.status = status;
  f.cacheStatus = cacheStatus;
  f.renderUs = timing.renderUs;
  f.durationUs = timing.durationUs;
  f.bytes = timing.bytes;
  // Headers win over config so one local server can stand in for several tenants or sites.
  f.tenantId = present(tenant) ?? ids.tenant_id;
  f.siteId = present(site) ?? ids.site_id;
  f.encoding = encoding && encoding.trim() !== '' ? encoding.trim().toLowerCase() : 'identity';
  f.isBot = isBot(agent);
  f.userAgent = agent;
  f.referer = present(referer);
  f.ts = timing.ts;
  return f;
}

/** A header value as the event has it: trimmed, null when absent or blank. */
function present(v: string | undefined): string | null {
  if (v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

const FIELDS: EventFields = {
  path: '',
  query: '',
  method: '',
  status: 0,
  cacheStatus: '',
  renderUs: 0,
  durationUs: 0,
  bytes: 0,
  tenantId: null,
  siteId: null,
  encoding: '',
  isBot: false,
  userAgent: '',
  referer: null,
  ts: 0,
};

/** The event object of the fields (for an event the log cannot take: it goes to the queues as an object). */
export function eventOf(f: EventFields): RequestEvent {
  return {
    path: f.path,
    query: f.query,
    method: f.method,
    status: f.status,
    cache_status: f.cacheStatus as CacheStatus,
    render_time_us: f.renderUs,
    duration_us: f.durationUs,
    bytes: f.bytes,
    tenant_id: f.tenantId,
    site_id: f.siteId,
    encoding: f.encoding,
    is_bot: f.isBot,
    user_agent: f.userAgent,
    referer: f.referer,
    ts: f.ts,
  };
}
