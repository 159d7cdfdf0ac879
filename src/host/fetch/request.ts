/**
 * The request JSON a guest passes to http_fetch:
 *   {"url": "...", "method": "GET", "headers": [["k","v"], ...], "body": "text"}
 * `headers` may also be an object; `body_base64` carries binary bodies. Anything malformed is an
 * error string (the guest gets {"status":0,"error":"invalid request: ..."}), never a throw.
 */
export interface FetchRequest {
  url: URL;
  method: string;
  headers: Array<[string, string]>;
  body: Buffer | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers bext sets itself. Hop-by-hop headers belong to bext's connection, and `host` would
 * let a plugin reach a different virtual host on an allowed address than the URL it was checked for.
 */
export const DROPPED_HEADERS: ReadonlySet<string> = new Set([
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'proxy-authorization', 'content-length', 'expect',
]);

function headerList(raw: unknown): Array<[string, string]> | string {
  if (raw === undefined || raw === null) return [];
  const pairs: Array<[unknown, unknown]> = Array.isArray(raw)
    ? raw.map((p) => (Array.isArray(p) && p.length === 2 ? [p[0], p[1]] : [undefined, undefined]))
    : typeof raw === 'object'
      ? Object.entries(raw as Record<string, unknown>)
      : [];
  if (!Array.isArray(raw) && typeof raw !== 'object') return 'headers must be [[name, value], ...] or an object';
  const out: Array<[string, string]> = [];
  for (const [k, v] of pairs) {
    if (typeof k !== 'string' || typeof v !== 'string') return 'each header must be a [name, value] pair of strings';
    if (!TOKEN.test(k)) return `header name ${JSON.stringify(k)} is not valid`;
    if (/[\r\n\0]/.test(v)) return `header ${k} has a line break or NUL in its value`;
    if (DROPPED_HEADERS.has(k.toLowerCase())) continue;
    out.push([k, v]);
  }
  return out;
}

export function parseRequest(json: string): FetchRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'expected a JSON object {url, method, headers, body}';
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== 'string' || r.url === '') return '"url" must be a non-empty string';
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    return `"url" ${JSON.stringify(r.url)} is not an absolute URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https URLs can be fetched, not ${url.protocol}`;
  if (url.username !== '' || url.password !== '') return 'credentials in the URL are not allowed; send an authorization header';
  url.hash = '';
  const method = r.method === undefined ? 'GET' : r.method;
  if (typeof method !== 'string' || !TOKEN.test(method)) return '"method" must be an HTTP method name';
  const upper = method.toUpperCase();
  if (upper === 'CONNECT' || upper === 'TRACE') return `method ${upper} is not allowed`;
  const headers = headerList(r.headers);
  if (typeof headers === 'string') return headers;
  if (r.body !== undefined && r.body !== null && r.body_base64 !== undefined && r.body_base64 !== null) {
    return 'give either "body" or "body_base64", not both';
  }
  let body: Buffer | null = null;
  if (typeof r.body === 'string') body = Buffer.from(r.body, 'utf8');
  else if (r.body !== undefined && r.body !== null) return '"body" must be a string (use "body_base64" for bytes)';
  if (typeof r.body_base64 === 'string') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(r.body_base64)) return '"body_base64" is not valid base64';
    body = Buffer.from(r.body_base64, 'base64');
  } else if (r.body_base64 !== undefined && r.body_base64 !== null) return '"body_base64" must be a string';
  return { url, method: upper, headers, body };
}
