// Requests and their on_request_complete fields for tests of the event's JSON: the cases carry
// what JSON.stringify escapes (quotes, backslashes, control characters, lone and paired
// surrogates), non-ASCII, nulls, repeated headers and odd numbers (NaN, -0, 1e21, 2^31).

export const timing = { ts: 1764541234567, renderUs: 12, durationUs: 345, bytes: 1300 };
export const noIds = { tenant_id: null, site_id: null };

/** A request as node gives it: rawHeaders in order, and req.headers as node builds it from them. */
export function request(rawHeaders, method = 'GET') {
  const headers = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    if (name === 'user-agent' || name === 'referer') headers[name] ??= value;
    else headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method, rawHeaders, headers };
}

/** Arguments of eventFields (server/request-event.ts), one request each. */
export const cases = [
  [request(['User-Agent', 'Mozilla/5.0', 'Host', 'x']), '/index.html', '', 200, 'HIT', undefined, timing, noIds],
  [request([], 'HEAD'), '/a b/"q"\\', '?x=1&y=\u00e9', 304, 'MISS', 'GZIP ', timing, { tenant_id: 't', site_id: 's' }],
  [
    request(['user-agent', 'Googlebot/2.1 \u2028\u2029 \u0001\u001f\u007f', 'Referer', 'https://e.example/\ud83d\ude00', 'X-Bext-Tenant', 'T\ud800', 'x-bext-site', '\tsite']),
    '/\u0000\u007f\u2603\b\f\n\r\t',
    '',
    500,
    'STALE',
    'br',
    { ts: 0, renderUs: -0, durationUs: NaN, bytes: Infinity },
    { tenant_id: null, site_id: 'cfg' },
  ],
  // Repeated headers: the first User-Agent and Referer win, tenant and site repeats are joined.
  [
    request(['User-Agent', 'first', 'user-agent', 'second', 'Referer', '  ', 'X-Bext-Tenant', 'a', 'X-Bext-Tenant', 'b\udc00c', 'X-Bext-Site', ' ']),
    '/\u00ff\u0080',
    '?q=\u00e9\u00e8"',
    404,
    'BYPASS',
    '',
    { ts: 1.5, renderUs: -12, durationUs: 1e21, bytes: 2 ** 31 },
    { tenant_id: '\ud83d', site_id: 'caf\u00e9 "\\"' },
  ],
  // No strings at all, lone surrogates of both halves in config ids.
  [request([], 'DELETE'), '', '', 0, 'MISS', 'identity', { ts: -1, renderUs: 0.1, durationUs: 7, bytes: 0 }, { tenant_id: '\udfff', site_id: '\ud800\udbff' }],
];
