/** Builds the on_request_complete event for one finished response. */
import type { IncomingMessage } from 'node:http';
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

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  if (v === undefined) return null;
  const s = Array.isArray(v) ? v[0] ?? '' : v;
  return s.trim() === '' ? null : s.trim();
}

export interface EventTiming {
  ts: number;
  renderUs: number;
  durationUs: number;
  bytes: number;
}

export function buildEvent(
  req: IncomingMessage,
  rawPath: string,
  search: string,
  status: number,
  cacheStatus: CacheStatus,
  encoding: string | undefined,
  timing: EventTiming,
  ids: { tenant_id: string | null; site_id: string | null },
): RequestEvent {
  const ua = header(req, 'user-agent') ?? '';
  return {
    path: rawPath,
    query: search.startsWith('?') ? search.slice(1) : search,
    method: req.method ?? 'GET',
    status,
    cache_status: cacheStatus,
    render_time_us: timing.renderUs,
    duration_us: timing.durationUs,
    bytes: timing.bytes,
    // Headers win over config so one local server can stand in for several tenants or sites.
    tenant_id: header(req, 'x-bext-tenant') ?? ids.tenant_id,
    site_id: header(req, 'x-bext-site') ?? ids.site_id,
    encoding: encoding && encoding.trim() !== '' ? encoding.trim().toLowerCase() : 'identity',
    is_bot: isBot(ua),
    user_agent: ua,
    referer: header(req, 'referer'),
    ts: timing.ts,
  };
}
