/**
 * http_fetch on the main thread. The worker's sync bridge hands us the guest's request JSON and
 * blocks until we answer with response JSON. Every guest request goes through, in order:
 *
 *   parse → allowed_urls → token bucket → DNS → address check → connect to that address
 *   → (redirect? re-check the new URL from the top, at most 5 times) → size-capped body
 *
 * all under one deadline (permissions.fetch_timeout_ms). Each refusal is logged at warn with the
 * plugin, the URL and the reason, and reported through `onRefused` (stats count it).
 * The rules are documented in docs/permissions.md.
 */
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { request as undiciRequest } from 'undici';
import type { PluginConfig } from '../../config/types.js';
import { BextError } from '../../errors.js';
import { logger, logPerCause } from '../../log.js';
import { AllowedUrlError, checkUrl, parseAllowedUrls, type AllowedUrl } from '../../config/url-patterns.js';
import { refusalFor, type HostPolicy } from './address-policy.js';
import { abortable, startDeadline, type FetchSignal } from './deadline.js';
import { createAgentPool, type ResolvedAddress } from './pinned-agents.js';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';
import { parseRequest, type FetchRequest } from './request.js';
import { systemLookup, type Lookup, type LookupResult } from './resolve.js';
import { errorJson, headerPairs, responseJson } from './response.js';

// undici loads with the first fetch: bext starts without it (most plugins never fetch). Kept once
// loaded: require() resolves the name again on every call (a package.json lookup and stat).
const load = createRequire(import.meta.url);
let undiciRequestFn: typeof undiciRequest | null = null;
const request: typeof undiciRequest = (...args) =>
  (undiciRequestFn ??= (load('undici') as { request: typeof undiciRequest }).request)(...args);

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Headers that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);

export type { LookupResult } from './resolve.js';

export interface FetchHandlerOptions {
  /** Called for every refused fetch (not for plain network errors). */
  onRefused?(plugin: string, url: string, reason: string): void;
  /**
   * Resolves a host name to addresses (tests inject answers here); defaults to systemLookup
   * (resolve.ts), which the fetch deadline cancels.
   */
  lookup?: Lookup;
  /** Millisecond clock for the rate limiter (tests); defaults to performance.now(). */
  now?: () => number;
  /**
   * The plugin's max_fetch_per_minute bucket, when the caller keeps it across reloads (the plugin
   * engine does, so a reload never refills it); else a new full one.
   */
  bucket?: TokenBucket;
}

export type FetchHandler = ((requestJson: string) => Promise<string>) & {
  /** Closes pooled connections (plugin unloaded). */
  close(): Promise<void>;
};

/** Why a fetch was refused; `code` is stable, `message` is what the guest and the log see. */
export type RefusalCode =
  | 'invalid_request'
  | 'not_allowed'
  | 'blocked_address'
  | 'rate_limited'
  | 'too_many_redirects'
  | 'response_too_large'
  | 'timeout';

class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** A failure that is not a policy decision (DNS, connection refused, reset...). */
class NetworkFailure extends Error {
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

function normaliseAddresses(list: LookupResult): ResolvedAddress[] {
  const out: ResolvedAddress[] = [];
  for (const item of list) {
    const address = typeof item === 'string' ? item : item.address;
    const family = isIP(address);
    if (family === 4 || family === 6) out.push({ address, family });
  }
  return out;
}

function parsePolicy(plugin: PluginConfig): AllowedUrl[] {
  try {
    return parseAllowedUrls(plugin.permissions.allowed_urls);
  } catch (err) {
    if (err instanceof AllowedUrlError) {
      throw new BextError('config_invalid', `plugin ${plugin.name}: ${err.message.split('\n')[0]}`, {
        details: err.message.split('\n').slice(1),
      });
    }
    throw err;
  }
}

export function createFetchHandler(plugin: PluginConfig, opts: FetchHandlerOptions = {}): FetchHandler {
  const name = plugin.name;
  const perms = plugin.permissions;
  const policy = parsePolicy(plugin);
  const lookup = opts.lookup ?? systemLookup;
  const now = opts.now ?? (() => performance.now());
  const bucket = opts.bucket ?? createTokenBucket(perms.max_fetch_per_minute, now);
  const agents = createAgentPool();
  const timeoutMs = perms.fetch_timeout_ms;
  const maxBytes = perms.max_response_bytes;
  // Configs resolved before the permission existed lack it: treat as off.
  const allowPrivateNetworks = perms.allow_private_networks === true;
  const rateLog = { lastLogged: -Infinity, suppressed: 0 };

  function refuse(code: RefusalCode, message: string, url: string): never {
    throw new Refusal(code, message, url);
  }

  function report(err: Refusal): void {
    // A plugin hammering a rate-limited fetch would flood the log: one line per 10 s, with a count.
    if (err.code === 'rate_limited') {
      const t = now();
      if (t - rateLog.lastLogged < 10_000) {
        rateLog.suppressed++;
      } else {
        const more = rateLog.suppressed > 0 ? { suppressed_since_last: rateLog.suppressed } : {};
        logger().warn({ plugin: name, url: clip(err.url), reason: clip(err.message), ...more }, 'http_fetch refused');
        rateLog.lastLogged = t;
        rateLog.suppressed = 0;
      }
    } else {
      logPerCause(`http_fetch refused\u0000${name}\u0000${err.code}`, 'warn', { plugin: name, url: clip(err.url), reason: clip(err.message) }, 'http_fetch refused');
    }
    try {
      opts.onRefused?.(name, err.url, err.message);
    } catch (cbErr) {
      logger().error({ plugin: name, err: (cbErr as Error)?.message }, 'onRefused callback failed');
    }
  }

  /** DNS, then the address rules: the addresses we may connect to, in resolver order. */
  async function pickAddresses(url: URL, namedLiterally: boolean, signal: FetchSignal): Promise<ResolvedAddress[]> {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    let addresses: ResolvedAddress[];
    const literalFamily = isIP(host);
    if (literalFamily === 4 || literalFamily === 6) {
      addresses = [{ address: host, family: literalFamily }];
    } else {
      let raw: LookupResult;
      try {
        raw = await abortable(lookup(host, { signal, timeoutMs }), signal);
      } catch (err) {
        if (signal.aborted) throw err;
        throw new NetworkFailure(`cannot resolve ${host}: ${(err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message}`, url.href);
      }
      addresses = normaliseAddresses(raw);
      if (addresses.length === 0) throw new NetworkFailure(`cannot resolve ${host}: no addresses`, url.href);
    }
    const hostPolicy: HostPolicy = { host, isIp: literalFamily !== 0, namedLiterally, allowPrivateNetworks };
    // Every answer is judged: one refused address among open ones is skipped, not tried.
    const open = addresses.filter((a) => refusalFor(hostPolicy, a.address) === null);
    if (open.length > 0) return open;
    refuse('blocked_address', refusalFor(hostPolicy, addresses[0]!.address) ?? `${host}: no reachable address`, url.href);
  }

  async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, url: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += chunk.length;
      if (total > maxBytes) {
        body.destroy();
        refuse('response_too_large', `response larger than max_response_bytes (${maxBytes} bytes)`, url);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  async function perform(req: FetchRequest, signal: FetchSignal): Promise<string> {
    let url = req.url;
    let method = req.method;
    let headers = req.headers;
    let body = req.body;
    for (let redirects = 0; ; redirects++) {
      const decision = checkUrl(policy, url);
      if (!decision.allowed) {
        const what = redirects === 0 ? url.href : `redirect to ${url.href}`;
        refuse(
          'not_allowed',
          policy.length === 0 ? `${what} refused: allowed_urls is empty (no network)` : `${what} is not in allowed_urls`,
          url.href,
        );
      }
      const targets = await pickAddresses(url, decision.literalHost, signal);
      // undici does not give up a connection attempt when the signal aborts (it waits for its own
      // connect timeout, ~10 s): the deadline has to end the wait here.
      const res = await abortable(requestFirstReachable(targets, (target) =>
        request(url, {
          method: method as never,
          headers: headers.flat(),
          body,
          signal,
          dispatcher: agents.get(target),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
      ), signal);
      // Whoever reads the body sees its errors; this listener keeps an error on a body nobody reads
      // any more (dropped for its size, aborted by the deadline) from becoming an uncaught exception.
      res.body.on('error', ignore);
      const location = res.headers.location;
      if (REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string') {
        // Drain a small redirect body so the connection can be reused; give up on big ones.
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new NetworkFailure(`redirect to an invalid URL ${JSON.stringify(location)}`, url.href);
        }
        if (redirects >= MAX_REDIRECTS) refuse('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`, next.href);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          refuse('not_allowed', `redirect to ${next.href} refused: only http and https`, next.href);
        }
        next.hash = '';
        // Credentials in a Location header would be sent on to the next host; never follow them.
        next.username = '';
        next.password = '';
        // Browser rules: 303 becomes GET; 301/302 turn a POST into GET; 307/308 repeat as is.
        if ((res.statusCode === 303 && method !== 'HEAD') || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = null;
          headers = headers.filter(([k]) => !k.toLowerCase().startsWith('content-'));
        }
        if (next.origin !== url.origin) headers = headers.filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase()));
        url = next;
        continue;
      }
      const declared = Number(res.headers['content-length']);
      if (method !== 'HEAD' && Number.isFinite(declared) && declared > maxBytes) {
        res.body.destroy();
        refuse('response_too_large', `response of ${declared} bytes exceeds max_response_bytes (${maxBytes} bytes)`, url.href);
      }
      const bytes = await readCapped(res.body, url.href);
      return responseJson(res.statusCode, headerPairs(res.headers), bytes, url.href);
    }
  }

  const handler = async (requestJson: string): Promise<string> => {
    const deadline = startDeadline(timeoutMs);
    let currentUrl = '';
    try {
      const req = parseRequest(requestJson);
      if (typeof req === 'string') {
        const url = safeUrlFrom(requestJson);
        currentUrl = url;
        refuse('invalid_request', `invalid request: ${req}`, url);
      }
      currentUrl = req.url.href;
      if (!bucket.take()) {
        const wait = bucket.waitMs();
        const rate = perms.max_fetch_per_minute;
        refuse(
          'rate_limited',
          rate <= 0
            ? 'rate limited: max_fetch_per_minute is 0'
            : `rate limited: max_fetch_per_minute is ${rate}; next token in ${wait} ms`,
          currentUrl,
        );
      }
      return await perform(req, deadline.signal);
    } catch (err) {
      if (err instanceof Refusal) {
        report(err);
        return errorJson(err.message);
      }
      if (deadline.signal.aborted) {
        const refusal = new Refusal('timeout', `timeout after ${timeoutMs} ms (fetch_timeout_ms)`, currentUrl);
        report(refusal);
        return errorJson(refusal.message);
      }
      const message = err instanceof NetworkFailure ? err.message : describeNetworkError(err);
      logger().warn({ plugin: name, url: clip(currentUrl), reason: clip(message) }, 'http_fetch failed');
      return errorJson(message);
    } finally {
      deadline.clear();
    }
  };

  return Object.assign(handler, { close: () => agents.close() });
}

function ignore(): void {}

/** Connect errors after which the next checked address is worth trying (nothing was sent). */
const TRY_NEXT: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

/**
 * Tries each checked address in order until one accepts the connection, so `localhost`
 * resolving to ::1 first still reaches a server listening on 127.0.0.1 only.
 */
async function requestFirstReachable<T>(targets: ResolvedAddress[], send: (t: ResolvedAddress) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const target of targets) {
    try {
      return await send(target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (code === undefined || !TRY_NEXT.has(code)) throw err;
      last = err;
    }
  }
  throw last;
}

function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.code ?? e?.cause?.code;
  const msg = e?.message ?? String(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** The URL from a request we could not parse, for the log line ('' when there is none). */
function safeUrlFrom(json: string): string {
  try {
    const v = JSON.parse(json) as { url?: unknown };
    return typeof v?.url === 'string' ? v.url.slice(0, 2048) : '';
  } catch {
    return '';
  }
}

/** A guest controls URLs and so part of every message: keep log lines bounded. */
function clip(text: string, max = 2048): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}
