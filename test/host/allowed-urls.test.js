// allowed_urls parsing and matching, table-driven: what each entry accepts and what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowedUrl, parseAllowedUrls, checkUrl, AllowedUrlError } from '../../dist/config/url-patterns.js';

const CASES = [
  // [entry, url, allowed]
  ['https://api.example.com/*', 'https://api.example.com/', true],
  ['https://api.example.com/*', 'https://api.example.com', true],
  ['https://api.example.com/*', 'https://api.example.com/v1/users/7?x=1#f', true],
  ['https://api.example.com/*', 'https://API.Example.COM/a', true],
  ['https://api.example.com/*', 'https://api.example.com./a', true],
  ['https://api.example.com/*', 'http://api.example.com/a', false], // scheme
  ['https://api.example.com/*', 'https://api.example.com:8443/a', false], // port
  ['https://api.example.com/*', 'https://api.example.com:443/a', true], // explicit default port
  ['https://api.example.com/*', 'https://example.com/a', false],
  ['https://api.example.com/*', 'https://x.api.example.com/a', false],
  ['https://api.example.com/*', 'https://api.example.com.evil.net/a', false],
  ['https://api.example.com/*', 'https://evilapi.example.com/a', false],
  ['https://*.example.com/*', 'https://a.example.com/x', true],
  ['https://*.example.com/*', 'https://a.b.example.com/x', true],
  ['https://*.example.com/*', 'https://example.com/x', false],
  ['https://*.example.com/*', 'https://badexample.com/x', false],
  ['https://*.example.com/*', 'https://example.com.evil.net/x', false],
  ['https://*.example.com/*', 'https://a.example.com.evil.net/x', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/a/b', true],
  ['https://api.example.com/v1/*', 'https://api.example.com/v2/a', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/../v2/a', false], // dot segments resolved first
  ['https://api.example.com/v1/*', 'https://api.example.com/v1/%2e%2e/v2/a', false],
  ['https://api.example.com/v1/*', 'https://api.example.com/v10/a', false],
  ['https://api.example.com/v1/*/items', 'https://api.example.com/v1/7/items', true],
  ['https://api.example.com/v1/*/items', 'https://api.example.com/v1/7/8/items', false],
  ['https://api.example.com/v1/**/items', 'https://api.example.com/v1/7/8/items', true],
  ['https://api.example.com/ingest', 'https://api.example.com/ingest?k=v', true],
  ['https://api.example.com/ingest', 'https://api.example.com/ingest/x', false],
  ['https://api.example.com', 'https://api.example.com/any/path', true], // no path = any path
  ['*://api.example.com/*', 'http://api.example.com/a', true],
  ['*://api.example.com/*', 'https://api.example.com/a', true],
  ['http://127.0.0.1:4000/*', 'http://127.0.0.1:4000/x', true],
  ['http://127.0.0.1:4000/*', 'http://127.0.0.1:4001/x', false],
  ['http://127.0.0.1:4000/*', 'http://localhost:4000/x', false],
  ['http://localhost:*/*', 'http://localhost:1234/x', true],
  ['http://localhost:*/*', 'http://localhost/x', true],
  ['http://[::1]:8080/*', 'http://[::1]:8080/x', true],
  ['http://[0:0:0:0:0:0:0:1]:8080/*', 'http://[::1]:8080/x', true],
  ['https://*/*', 'https://anything.test/x', true],
  ['https://*/*', 'http://anything.test/x', false],
];

test('each entry matches exactly the URLs it should', () => {
  for (const [entry, url, want] of CASES) {
    const got = checkUrl([parseAllowedUrl(entry)], new URL(url)).allowed;
    assert.equal(got, want, `${entry} vs ${url}: expected ${want ? 'allowed' : 'refused'}`);
  }
});

test('an empty list allows nothing', () => {
  assert.equal(checkUrl([], new URL('https://example.com/')).allowed, false);
});

test('literal hosts are recognised (they may reach private addresses)', () => {
  const list = parseAllowedUrls(['http://127.0.0.1:4000/*', 'http://*.test:4000/*', 'http://dev.test:4000/api/*']);
  assert.deepEqual(checkUrl(list, new URL('http://127.0.0.1:4000/a')), { allowed: true, literalHost: true });
  assert.deepEqual(checkUrl(list, new URL('http://x.test:4000/a')), { allowed: true, literalHost: false });
  // dev.test matches the wildcard everywhere, and the literal entry only under /api/.
  assert.deepEqual(checkUrl(list, new URL('http://dev.test:4000/a')), { allowed: true, literalHost: false });
  assert.deepEqual(checkUrl(list, new URL('http://dev.test:4000/api/a')), { allowed: true, literalHost: true });
  const e = parseAllowedUrl('https://API.example.com:8443/v1/*');
  assert.equal(e.original, 'https://API.example.com:8443/v1/*');
  assert.equal(e.host, 'api.example.com');
  assert.equal(e.port, 8443);
  assert.equal(e.hostIsLiteral, true);
});

const BAD = [
  ['api.example.com', /scheme is missing/],
  ['*.example.com', /scheme is missing/],
  ['ftp://example.com/*', /scheme "ftp" is not supported/],
  ['https://', /host is missing/],
  ['https://user:pw@example.com/*', /user names and passwords/],
  ['https://example.com:99999/*', /port "99999"/],
  ['https://example.com:abc/*', /port "abc"/],
  ['https://exa mple.com/*', /not a valid host/],
  ['https://*.exa$mple.com/*', /characters a host name cannot have/],
  ['https://example.com/*?q=1', /query strings/],
  ['https://[zz::1]/*', /IPv6/],
];

test('bad entries are refused with the entry, the problem and the expected form', () => {
  for (const [entry, problem] of BAD) {
    assert.throws(() => parseAllowedUrl(entry), (err) => {
      assert.ok(err instanceof AllowedUrlError, entry);
      assert.match(err.message, problem, entry);
      assert.ok(err.message.includes(JSON.stringify(entry)), err.message);
      assert.match(err.message, /expected scheme:\/\/host\[:port\]\[\/path\]/);
      return true;
    });
  }
  assert.throws(() => parseAllowedUrls(['https://ok.example/*', 'nope', 'ftp://x/']), (err) => {
    assert.equal(err.message.split('\n').length, 2);
    return true;
  });
});
