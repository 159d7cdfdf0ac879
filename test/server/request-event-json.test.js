// The request event's JSON (what on_request_complete receives) is written by a serializer of its
// own for speed; it must be exactly what JSON.stringify writes for the same event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventFields, eventJson, eventOf } from '../../dist/server/request-event.js';

// eventFields reads rawHeaders (name, value, name, value, …).
const req = (headers, method = 'GET') => ({ method, rawHeaders: Object.entries(headers).flat() });
/** An event as the server builds it (eventFields reuses one object: each is copied out at once). */
const buildEvent = (...args) => eventOf(eventFields(...args));
const timing = { ts: 1764541234567, renderUs: 12, durationUs: 345, bytes: 1300 };

test('eventJson writes the same bytes as JSON.stringify', () => {
  const events = [
    buildEvent(req({ 'user-agent': 'Mozilla/5.0' }), '/index.html', '', 200, 'HIT', undefined, timing, { tenant_id: null, site_id: null }),
    buildEvent(req({}, 'HEAD'), '/a b/"q"\\', '?x=1&y=\u00e9', 304, 'MISS', 'GZIP ', timing, { tenant_id: 't', site_id: 's' }),
    buildEvent(
      req({ 'user-agent': 'Googlebot/2.1 \u2028\u2029 \u0001\u001f', referer: 'https://e.example/\ud83d\ude00', 'x-bext-tenant': 'T\ud800', 'x-bext-site': '\tsite' }),
      '/\u0000\u007f\u2603',
      '',
      500,
      'STALE',
      'br',
      { ts: 0, renderUs: -0, durationUs: NaN, bytes: Infinity },
      { tenant_id: null, site_id: 'cfg' },
    ),
  ];
  for (const e of events) assert.equal(eventJson(e), JSON.stringify(e));
});
