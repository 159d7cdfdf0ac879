/**
 * The in-memory response cache. Keys are `page:<path>` plus `?<query>` when there is one.
 * Bounded by entry count and by bytes; the least recently used entry goes first. An expired
 * entry is not served as a HIT, but stays (until evicted) so it can be served as STALE when
 * the origin cannot be reached.
 */
import picomatch from 'picomatch';
import { buildEntryHead, type EntryHead } from './entry-head.js';
import type { HeaderMap } from './types.js';

export interface CacheEntry {
  key: string;
  status: number;
  headers: HeaderMap;
  /** The head a HIT or STALE answer sends, made from `headers` when the entry is stored. */
  head: EntryHead;
  body: Buffer;
  tags: string[];
  storedAt: number;
  expiresAt: number;
  /** Accounted size: body + headers + key. */
  bytes: number;
}

export interface CacheLimits {
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
}

const PAGE = 'page:';

export function cacheKey(rawPath: string, search: string): string {
  return search && search !== '?' ? `${PAGE}${rawPath}${search}` : `${PAGE}${rawPath}`;
}

/** Tags from `cache-tag` / `x-bext-tags` (comma separated; both headers are merged, duplicates removed). */
export function parseTags(headers: HeaderMap): string[] {
  const out = new Set<string>();
  for (const name of ['cache-tag', 'x-bext-tags']) {
    const v = headers[name];
    for (const line of Array.isArray(v) ? v : v ? [v] : []) {
      for (const t of line.split(',')) {
        const tag = t.trim();
        if (tag) out.add(tag);
      }
    }
  }
  return [...out];
}

function directives(value: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const line of Array.isArray(value) ? value : value ? [value] : []) {
    for (const d of line.split(',')) out.add(d.trim().toLowerCase().split('=')[0]!);
  }
  return out;
}

/**
 * Whether a response may be stored: `store`, `bypass` (the response or request forbids it:
 * no-store, private, Set-Cookie, Vary: *), or `skip` (not a GET 200: shown as MISS).
 */
export function storability(method: string, status: number, headers: HeaderMap): 'store' | 'bypass' | 'skip' {
  const cc = directives(headers['cache-control']);
  if (cc.has('no-store') || cc.has('private')) return 'bypass';
  if (headers['set-cookie'] !== undefined) return 'bypass';
  const vary = headers.vary;
  if (vary !== undefined && String(vary).split(',').some((v) => v.trim() === '*')) return 'bypass';
  if (method !== 'GET' || status !== 200) return 'skip';
  return 'store';
}

/**
 * True when the request asks to skip cached copies (a hard reload sends no-cache); takes the
 * request's Cache-Control and Pragma headers.
 */
export function requestBypasses(cacheControl: string | undefined, pragma: string | undefined): boolean {
  // Most requests carry neither header: no parsing then.
  if (cacheControl === undefined && pragma === undefined) return false;
  const cc = directives(cacheControl);
  if (cc.has('no-cache') || cc.has('no-store')) return true;
  return pragma !== undefined && pragma.toLowerCase().includes('no-cache');
}

function headerBytes(headers: HeaderMap): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) n += k.length + (Array.isArray(v) ? v.join('').length : v.length) + 4;
  return n;
}

/** Checks an invalidation pattern; returns an error message or null. */
export function patternProblem(pattern: unknown): string | null {
  if (typeof pattern !== 'string') return '"pattern" must be a string, e.g. "page:/blog/*"';
  if (pattern.length === 0) return '"pattern" must not be empty';
  if (pattern.length > 2048) return '"pattern" is longer than 2048 characters';
  return null;
}

export class ResponseCache {
  private readonly entries = new Map<string, CacheEntry>();
  /**
   * The `page:` entries again, by what follows the prefix: a request path without a query is
   * looked up as the very string node parsed, without building (and hashing) its key.
   */
  private readonly pages = new Map<string, CacheEntry>();
  private totalBytes = 0;
  /** The most recently used entry (the last in `entries`), or null when not known. */
  private newest: CacheEntry | null = null;
  limits: CacheLimits;
  private readonly now: () => number;

  constructor(limits: CacheLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Largest body worth buffering for storage (a single entry may use a quarter of the budget). */
  get maxEntryBytes(): number {
    return Math.floor(this.limits.maxBytes / 4);
  }

  /** Looks an entry up and marks it recently used. */
  get(key: string): { entry: CacheEntry; fresh: boolean } | undefined {
    const entry = this.lookup(key);
    return entry === undefined ? undefined : { entry, fresh: this.isFresh(entry, this.now()) };
  }

  /** As get, without the freshness verdict (see isFresh). */
  lookup(key: string): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.touch(entry);
    return entry;
  }

  /** lookup(cacheKey(rawPath, search)), without making the key when there is no query. */
  lookupPage(rawPath: string, search: string): CacheEntry | undefined {
    const entry = this.pages.get(search && search !== '?' ? rawPath + search : rawPath);
    if (entry !== undefined) this.touch(entry);
    return entry;
  }

  /** Marks an entry recently used. */
  private touch(entry: CacheEntry): void {
    // Already the most recent (a page requested over and over): nothing to move.
    if (entry === this.newest) return;
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
    this.newest = entry;
  }

  /** Whether an entry may be served as a HIT at `now` (ms since the epoch, the clock storedAt came from). */
  isFresh(entry: CacheEntry, now: number): boolean {
    return now < entry.expiresAt;
  }

  /** Stores a response; returns false when it is too large for the limits. */
  set(key: string, status: number, headers: HeaderMap, body: Buffer, tags: string[]): boolean {
    const bytes = body.length + headerBytes(headers) + key.length;
    if (bytes > this.maxEntryBytes || this.limits.maxEntries < 1) return false;
    this.delete(key);
    const storedAt = this.now();
    const head = buildEntryHead(headers);
    const entry: CacheEntry = { key, status, headers, head, body, tags, storedAt, expiresAt: storedAt + this.limits.ttlMs, bytes };
    this.entries.set(key, entry);
    if (key.startsWith(PAGE)) this.pages.set(key.slice(PAGE.length), entry);
    this.newest = entry;
    this.totalBytes += bytes;
    this.evict();
    return true;
  }

  delete(key: string): boolean {
    const old = this.entries.get(key);
    if (!old) return false;
    this.entries.delete(key);
    if (key.startsWith(PAGE)) this.pages.delete(key.slice(PAGE.length));
    if (old === this.newest) this.newest = null;
    this.totalBytes -= old.bytes;
    return true;
  }

  /**
   * Removes every key matching the glob (picomatch; `*` stays within a path segment, `**`
   * crosses them). `page:/blog/*` also removes the folder page `page:/blog/` itself.
   */
  invalidate(pattern: string): string[] {
    const match = picomatch(pattern, { dot: true });
    const folder = pattern.endsWith('/*') ? pattern.slice(0, -1) : null;
    const removed: string[] = [];
    for (const key of [...this.entries.keys()]) {
      if (key === pattern || key === folder || match(key)) {
        this.delete(key);
        removed.push(key);
      }
    }
    return removed;
  }

  /** Removes every entry carrying this tag. */
  invalidateTag(tag: string): string[] {
    const removed: string[] = [];
    for (const [key, entry] of [...this.entries]) {
      if (entry.tags.includes(tag)) {
        this.delete(key);
        removed.push(key);
      }
    }
    return removed;
  }

  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.pages.clear();
    this.newest = null;
    this.totalBytes = 0;
    return n;
  }

  /** Applies new limits (after a config change) and evicts down to them. */
  resize(limits: CacheLimits): void {
    this.limits = limits;
    this.evict();
  }

  private evict(): void {
    while (this.entries.size > this.limits.maxEntries || this.totalBytes > this.limits.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }
}
