/** Small helpers over Node's request headers. */
import type { IncomingMessage } from 'node:http';

/** The first value of a header that may repeat. */
export function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Whether the client accepts a response in `encoding` (Accept-Encoding, q=0 refuses). */
export function acceptsEncoding(req: IncomingMessage, encoding: string | undefined): boolean {
  if (!encoding || encoding === 'identity') return true;
  const accept = String(req.headers['accept-encoding'] ?? '').toLowerCase();
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
