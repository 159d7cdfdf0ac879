/** Small helpers over Node's request headers. */
import type { IncomingMessage } from 'node:http';

/** The first value of a header that may repeat. */
export function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A request header as `req.headers[name]` gives it, read from `req.rawHeaders` so that a cache
 * HIT does not make node build the whole headers object. `name` is lower case and one that node
 * joins with ", " when it repeats (Cache-Control, Pragma, If-None-Match, Accept-Encoding and
 * the like; not Cookie, Set-Cookie, or those whose repeats node drops, such as Host).
 */
export function joinedHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!;
    if (field.length === name.length && field.toLowerCase() === name) value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** Whether the client accepts a response in `encoding` (Accept-Encoding, q=0 refuses). */
export function acceptsEncoding(req: IncomingMessage, encoding: string | undefined): boolean {
  if (!encoding || encoding === 'identity') return true;
  const accept = (joinedHeader(req, 'accept-encoding') ?? '').toLowerCase();
  return accept.split(',').some((e) => {
    const [name, q] = e.trim().split(';');
    return (name === encoding || name === '*') && !/q=0(\.0*)?$/.test((q ?? '').trim());
  });
}

/** The request method in upper case (node's parser already gives GET and HEAD so; no conversion for them). */
export function requestMethod(req: IncomingMessage): string {
  const m = req.method;
  return m === 'GET' || m === 'HEAD' ? m : (m ?? 'GET').toUpperCase();
}
