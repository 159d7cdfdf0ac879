/** Shapes shared by the dev server's modules (origin responses, request events). */
import type { Readable } from 'node:stream';

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS';

export type HeaderMap = Record<string, string | string[]>;

/** What an origin (static files or the upstream) answered, before the cache and the client see it. */
export interface OriginResponse {
  status: number;
  /** Lower-case names, hop-by-hop headers already removed. */
  headers: HeaderMap;
  /** null for HEAD, 304 and bodiless statuses. */
  body: Readable | Buffer | null;
  /** The static root has no such file: a configured upstream may answer instead. */
  notFound?: boolean;
  /** The origin could not be reached (502/504 pages): a stale cache entry may be served instead. */
  unreachable?: boolean;
}

/** The JSON handed to on_request_complete. */
export interface RequestEvent {
  path: string;
  query: string;
  method: string;
  status: number;
  cache_status: CacheStatus;
  /** Time to first byte, µs, from the request reaching bext to the response head being written. */
  render_time_us: number;
  /** Time until the last byte was handed to the socket, µs. */
  duration_us: number;
  bytes: number;
  tenant_id: string | null;
  site_id: string | null;
  /** Content-Encoding of the response ("identity" when none). */
  encoding: string;
  is_bot: boolean;
  user_agent: string;
  referer: string | null;
  /** Milliseconds since the epoch when the request arrived. */
  ts: number;
}
