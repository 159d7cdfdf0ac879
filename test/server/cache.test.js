// The response cache: unit tests of the LRU/TTL/glob rules, then HIT/MISS/BYPASS and admin
// invalidation through the real `bext dev` with a plugin that logs the hooks it receives.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseCache, cacheKey, parseTags, storability } from '../../dist/server/cache.js';
import { request } from 'undici';
import { makeProject, writeConfig, writePlugin, startDev } from './helpers.js';

describe('ResponseCache', () => {
  const limits = { ttlMs: 1000, maxEntries: 3, maxBytes: 1 << 20 };

  test('keys are page:<path> plus the query when present', () => {
    assert.equal(cacheKey('/blog/a', ''), 'page:/blog/a');
    assert.equal(cacheKey('/blog/a', '?x=1'), 'page:/blog/a?x=1');
    assert.equal(cacheKey('/blog/a', '?'), 'page:/blog/a');
  });

  test('evicts the least recently used entry past max_entries', () => {
    const c = new ResponseCache(limits);
    for (const k of ['a', 'b', 'c']) c.set(k, 200, {}, Buffer.from(k), []);
    c.get('a'); // a is now most recent; b is the oldest
    c.set('d', 200, {}, Buffer.from('d'), []);
    assert.equal(c.size, 3);
    assert.equal(c.get('b'), undefined);
    assert.ok(c.get('a') && c.get('c') && c.get('d'));
  });

  test('evicts by bytes and refuses an entry larger than a quarter of the budget', () => {
    const c = new ResponseCache({ ttlMs: 1000, maxEntries: 100, maxBytes: 4000 });
    assert.equal(c.set('huge', 200, {}, Buffer.alloc(1001), []), false);
    for (let i = 0; i < 10; i++) assert.equal(c.set(`k${i}`, 200, {}, Buffer.alloc(900), []), true);
    assert.ok(c.bytes <= 4000, `bytes ${c.bytes}`);
    assert.equal(c.size, 4);
    assert.ok(c.get('k9'));
    assert.equal(c.get('k0'), undefined);
  });

  test('an expired entry is found but not fresh', () => {
    let now = 0;
    const c = new ResponseCache(limits, () => now);
    c.set('a', 200, {}, Buffer.from('x'), []);
    assert.equal(c.get('a').fresh, true);
    now = 1000;
    assert.equal(c.get('a').fresh, false);
  });

  test('invalidate matches globs: * within a segment, ** across', () => {
    const c = new ResponseCache({ ttlMs: 1000, maxEntries: 100, maxBytes: 1 << 20 });
    const keys = ['page:/blog/a', 'page:/blog/b?x=1', 'page:/blog/a/deep', 'page:/about', 'page:/blog', 'page:/blog/'];
    for (const k of keys) c.set(k, 200, {}, Buffer.from(k), []);
    assert.deepEqual(c.invalidate('page:/blog/*').sort(), ['page:/blog/', 'page:/blog/a', 'page:/blog/b?x=1']);
    assert.deepEqual(c.invalidate('page:/blog/**').sort(), ['page:/blog', 'page:/blog/a/deep']);
    assert.deepEqual(c.invalidate('page:/nothing*'), []);
    assert.deepEqual(c.invalidate('page:/about'), ['page:/about']);
    assert.equal(c.size, 0);
  });

  test('tags merge cache-tag and x-bext-tags; storability follows the rules', () => {
    assert.deepEqual(parseTags({ 'cache-tag': 'a, b,,a', 'x-bext-tags': 'c' }), ['a', 'b', 'c']);
    assert.equal(storability('GET', 200, {}), 'store');
    assert.equal(storability('GET', 200, { 'cache-control': 'public, no-store' }), 'bypass');
    assert.equal(storability('GET', 200, { 'cache-control': 'private' }), 'bypass');
    assert.equal(storability('GET', 200, { 'set-cookie': 'a=1' }), 'bypass');
    assert.equal(storability('GET', 404, {}), 'skip');
    assert.equal(storability('HEAD', 200, {}), 'skip');
  });
});

describe('cache through bext dev', () => {
  let dev;
  before(async () => {
    const dir = makeProject({ 'blog/a.html': 'A', 'blog/b.html': 'B', 'about.html': 'about' });
    writePlugin(dir, 'rec.wasm');
    writeConfig(dir, '[server]\nroot = "./public"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n');
    dev = await startDev(dir, { args: ['--no-watch'] });
  });
  after(async () => assert.equal((await dev.stop()).code, 0));

  const get = async (p, init) => {
    const r = await fetch(dev.url + p.slice(1), init);
    await r.arrayBuffer();
    return r.headers.get('x-bext-cache');
  };

  test('MISS then HIT; the query is part of the key; no-cache requests and 404s are not HITs', async () => {
    assert.equal(await get('/blog/a.html'), 'MISS');
    assert.equal(await get('/blog/a.html'), 'HIT');
    assert.equal(await get('/blog/a.html?v=2'), 'MISS');
    assert.equal(await get('/blog/a.html?v=2'), 'HIT');
    assert.equal(await get('/blog/a.html', { headers: { 'cache-control': 'no-cache' } }), 'BYPASS');
    assert.equal(await get('/missing'), 'MISS');
    assert.equal(await get('/missing'), 'MISS');
    const head = await fetch(dev.url + 'blog/a.html', { method: 'HEAD' });
    assert.equal(head.headers.get('x-bext-cache'), 'HIT');
  });

  test('a cached entry answers If-None-Match with 304', async () => {
    const r = await fetch(dev.url + 'about.html');
    await r.text();
    const etag = r.headers.get('etag');
    // undici.request, not fetch: fetch adds Cache-Control: no-cache to conditional requests.
    const again = await request(dev.url + 'about.html', { headers: { 'if-none-match': etag, 'cache-control': 'max-age=0' } });
    await again.body.text();
    assert.equal(again.statusCode, 304);
    assert.equal(again.headers['x-bext-cache'], 'HIT');
  });

  test('POST /__bext/cache/invalidate removes matching keys and calls on_cache_invalidate', async () => {
    await get('/blog/b.html');
    await get('/about.html');
    const res = await fetch(dev.url + '__bext/cache/invalidate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: 'page:/blog/*' }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body, { pattern: 'page:/blog/*', removed: 3 }); // a.html, a.html?v=2, b.html
    assert.equal(await get('/blog/b.html'), 'MISS');
    assert.equal(await get('/about.html'), 'HIT');
    await dev.waitFor(() => dev.guest('rec').includes('v1 invalidate page:/blog/* 3'), 30_000, 'on_cache_invalidate');
    const writes = dev.guest('rec').filter((m) => m.startsWith('v1 write '));
    assert.ok(writes.includes('v1 write page:/blog/a.html []'), writes.join('\n'));
    assert.ok(writes.includes('v1 write page:/blog/a.html?v=2 []'));
  });

  test('bad invalidate bodies get JSON errors with status codes', async () => {
    const post = (body, headers = { 'content-type': 'application/json' }) => fetch(dev.url + '__bext/cache/invalidate', { method: 'POST', body, headers });
    const cases = [
      ['not json', 400, /not valid JSON/],
      ['', 400, /empty/],
      ['[1]', 400, /JSON object/],
      ['{}', 400, /"pattern" must be a string/],
      ['{"pattern":42}', 400, /"pattern" must be a string/],
      ['{"pattern":""}', 400, /must not be empty/],
      [JSON.stringify({ pattern: 'x'.repeat(70_000) }), 413, /larger than/],
    ];
    for (const [body, status, re] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, body.slice(0, 20));
      assert.match(r.headers.get('content-type'), /application\/json/);
      assert.match((await r.json()).error, re);
    }
    const wrong = await fetch(dev.url + '__bext/cache/invalidate');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    const unknown = await fetch(dev.url + '__bext/nope');
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error, /no admin endpoint/);
  });
});
