// The response cache's HIT path: the head a cached entry is answered with is built once when it
// is stored (entry-head.ts) and must carry exactly what a freshly copied header object did; the
// page index answers the same keys as the key map; request headers read from rawHeaders match
// node's req.headers. Then through the real `bext dev` without plugins, where a HIT is not watched
// until close: same headers as the MISS, Age counting up, 304, HEAD, and a clean shutdown.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { ResponseCache, cacheKey } from '../../dist/server/cache.js';
import { buildEntryHead, sendableHead, withConnectionClose } from '../../dist/server/entry-head.js';
import { joinedHeader } from '../../dist/server/headers.js';
import { makeProject, writeConfig, startDev, sleep } from './dev.js';

/** What a HIT used to send: a copy of the stored headers with Age and X-Bext-Cache set. */
function copied(headers, age, status) {
  return Object.entries({ ...headers, age: String(age), 'x-bext-cache': status }).flat();
}

describe('entry head', () => {
  const stored = { 'content-type': 'text/html', etag: 'W/"5-1"', 'cache-control': 'no-cache', 'content-length': '5', link: ['</a.css>; rel=preload', '</b.js>; rel=preload'] };

  test('the full head is the stored headers plus age and x-bext-cache, in order, for every age and status', () => {
    const head = buildEntryHead(stored);
    for (const [age, status] of [[0, 'HIT'], [0, 'HIT'], [3, 'HIT'], [3, 'STALE'], [125, 'HIT']]) {
      assert.deepEqual(sendableHead(head, false, age, status), copied(stored, age, status));
    }
    assert.equal(head.etag, 'W/"5-1"');
    assert.equal(head.encoding, undefined);
  });

  test('the 304 head leaves out content-length and content-type', () => {
    const head = buildEntryHead(stored);
    const want = copied(stored, 7, 'HIT');
    for (const name of ['content-type', 'content-length']) want.splice(want.indexOf(name), 2);
    assert.deepEqual(sendableHead(head, true, 7, 'HIT'), want);
    // The full head is not disturbed by the 304's.
    assert.deepEqual(sendableHead(head, false, 7, 'HIT'), copied(stored, 7, 'HIT'));
  });

  test('a stored age or x-bext-cache keeps its place and takes the new value', () => {
    const upstream = { age: '50', 'x-bext-cache': 'MISS', 'content-encoding': 'gzip', 'content-length': '9' };
    const head = buildEntryHead(upstream);
    assert.deepEqual(sendableHead(head, false, 2, 'STALE'), copied(upstream, 2, 'STALE'));
    assert.deepEqual(sendableHead(head, false, 2, 'STALE').slice(0, 4), ['age', '2', 'x-bext-cache', 'STALE']);
    assert.equal(head.encoding, 'gzip');
  });

  test('connection: close is added to a copy, or replaces a stored one', () => {
    const head = buildEntryHead(stored);
    const list = sendableHead(head, false, 1, 'HIT');
    const closing = withConnectionClose(list);
    assert.deepEqual(closing, [...copied(stored, 1, 'HIT'), 'connection', 'close']);
    assert.deepEqual(list, copied(stored, 1, 'HIT'));
    assert.deepEqual(withConnectionClose(['connection', 'keep-alive', 'a', 'connection']), ['connection', 'close', 'a', 'connection']);
  });
});

describe('ResponseCache page index', () => {
  const limits = { ttlMs: 1000, maxEntries: 3, maxBytes: 1 << 20 };
  const store = (c, p, q = '') => c.set(cacheKey(p, q), 200, {}, Buffer.from(p + q), []);

  test('lookupPage finds what lookup(cacheKey()) finds, through set, replace, invalidate, eviction and clear', () => {
    const c = new ResponseCache(limits);
    const same = (p, q) => assert.equal(c.lookupPage(p, q), c.lookup(cacheKey(p, q)), `${p}${q}`);
    store(c, '/a');
    store(c, '/a', '?v=1');
    for (const [p, q] of [['/a', ''], ['/a', '?'], ['/a', '?v=1'], ['/b', '']]) same(p, q);
    assert.equal(c.lookupPage('/a', '?').body.toString(), '/a');
    assert.equal(c.lookupPage('/a', '?v=1').body.toString(), '/a?v=1');
    store(c, '/a');
    assert.equal(c.lookupPage('/a', ''), c.lookup('page:/a'));
    c.invalidate('page:/a');
    assert.equal(c.lookupPage('/a', ''), undefined);
    assert.ok(c.lookupPage('/a', '?v=1'));
    store(c, '/b');
    store(c, '/c');
    store(c, '/d'); // evicts the least recently used: /a?v=1
    assert.equal(c.lookupPage('/a', '?v=1'), undefined);
    assert.ok(c.lookupPage('/d', ''));
    // Keys that are not pages are not in the index.
    c.set('other', 200, {}, Buffer.from('x'), []);
    assert.equal(c.lookupPage('other', ''), undefined);
    c.clear();
    assert.equal(c.lookupPage('/d', ''), undefined);
  });

  test('lookupPage marks the entry recently used, as get does', () => {
    const c = new ResponseCache(limits);
    for (const p of ['/a', '/b', '/c']) store(c, p);
    c.lookupPage('/a', '');
    store(c, '/d');
    assert.ok(c.lookupPage('/a', ''));
    assert.equal(c.lookupPage('/b', ''), undefined);
  });

  test('isFresh follows expiresAt', () => {
    let now = 10_000;
    const c = new ResponseCache(limits, () => now);
    store(c, '/a');
    const e = c.lookupPage('/a', '');
    assert.equal(c.isFresh(e, now + 999), true);
    assert.equal(c.isFresh(e, now + 1000), false);
    now += 1000;
    assert.equal(c.get('page:/a').fresh, false);
  });
});

test('joinedHeader reads a header from rawHeaders as req.headers has it', async (t) => {
  const seen = [];
  const server = http.createServer((req, res) => {
    for (const name of ['cache-control', 'pragma', 'if-none-match', 'accept-encoding', 'x-absent']) {
      seen.push([name, joinedHeader(req, name), req.headers[name]]);
    }
    res.end();
  });
  t.after(() => server.close());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const head =
    'GET / HTTP/1.1\r\nHost: x\r\nCache-Control: max-age=0\r\nIF-NONE-MATCH: "a"\r\ncache-control: no-cache\r\n' +
    'Pragma: no-cache\r\nIf-None-Match: W/"b", "c"\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n';
  await new Promise((resolve, reject) => {
    const sock = net.connect(server.address().port, '127.0.0.1', () => sock.end(head));
    sock.on('error', reject);
    sock.on('close', resolve);
    sock.resume();
  });
  assert.equal(seen.length, 5);
  for (const [name, got, want] of seen) assert.equal(got, want, name);
  assert.equal(seen[0][1], 'max-age=0, no-cache');
});

/** GET/HEAD with node:http, for the response head as sent (names and order). */
function fetchRaw(url, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, raw: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The head without the lines node:http adds itself (Date, Connection, Keep-Alive). */
const own = (raw) => raw.flatMap((v, i) => (i % 2 === 0 && !['date', 'connection', 'keep-alive'].includes(v.toLowerCase()) ? [[v, raw[i + 1]]] : []));

describe('cache HITs through bext dev, no plugins', () => {
  let dev;
  const page = `<!doctype html><title>t</title>${'<p>x</p>'.repeat(200)}`;
  before(async () => {
    const dir = makeProject({ 'index.html': page, 'big.bin': 'y'.repeat(50 * 1024) });
    writeConfig(dir, '[server]\nroot = "./public"\n');
    dev = await startDev(dir, { args: ['--no-watch'] });
  });
  after(async () => assert.equal((await dev.stop()).code, 0));

  test('a HIT sends the MISS head with age added and x-bext-cache: HIT, in the same order', async () => {
    const miss = await fetchRaw(dev.url + 'index.html');
    const hit = await fetchRaw(dev.url + 'index.html');
    assert.equal(miss.headers['x-bext-cache'], 'MISS');
    assert.equal(hit.status, 200);
    assert.equal(hit.body.toString(), page);
    const want = own(miss.raw).map(([n, v]) => [n, n === 'x-bext-cache' ? 'HIT' : v]);
    want.splice(want.findIndex(([n]) => n === 'x-bext-cache'), 0, ['age', hit.headers.age]);
    assert.deepEqual(own(hit.raw), want);
    assert.match(hit.headers.age, /^\d+$/);
    assert.equal(hit.headers['content-length'], String(Buffer.byteLength(page)));
  });

  test('Age counts the seconds since the entry was stored', async () => {
    const first = Number((await fetchRaw(dev.url + 'big.bin')).headers.age ?? 'miss');
    assert.ok(Number.isNaN(first)); // the MISS has no Age
    const a = Number((await fetchRaw(dev.url + 'big.bin')).headers.age);
    await sleep(1100);
    const b = await fetchRaw(dev.url + 'big.bin');
    assert.equal(b.headers['x-bext-cache'], 'HIT');
    assert.ok(Number(b.headers.age) >= a + 1, `age ${a} then ${b.headers.age}`);
    assert.equal(b.body.length, 50 * 1024);
  });

  test('If-None-Match with the ETag gets a 304 from the cache without content headers', async () => {
    const hit = await fetchRaw(dev.url + 'index.html');
    const etag = hit.headers.etag;
    for (const inm of [etag, `"nope", ${etag}`, etag.replace(/^W\//, ''), '*']) {
      const r = await fetchRaw(dev.url + 'index.html', { headers: { 'if-none-match': inm } });
      assert.equal(r.status, 304, inm);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['x-bext-cache'], 'HIT');
      const names = own(r.raw).map(([n]) => n);
      const want = own(hit.raw).map(([n]) => n).filter((n) => n !== 'content-length' && n !== 'content-type');
      assert.deepEqual(names, want);
    }
    const other = await fetchRaw(dev.url + 'index.html', { headers: { 'if-none-match': '"other"' } });
    assert.equal(other.status, 200);
    assert.equal(other.body.toString(), page);
  });

  test('HEAD from the cache has no body and the GET body length', async () => {
    await fetchRaw(dev.url + 'index.html');
    const r = await fetchRaw(dev.url + 'index.html', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-bext-cache'], 'HIT');
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(page)));
  });

  test('no-cache and Pragma: no-cache requests bypass a stored entry', async () => {
    await fetchRaw(dev.url + 'index.html');
    for (const headers of [{ 'cache-control': 'no-cache' }, { 'cache-control': 'max-age=0, no-store' }, { pragma: 'no-cache' }]) {
      const r = await fetchRaw(dev.url + 'index.html', { headers });
      assert.equal(r.headers['x-bext-cache'], 'BYPASS', JSON.stringify(headers));
    }
    assert.equal((await fetchRaw(dev.url + 'index.html', { headers: { 'cache-control': 'max-age=0' } })).headers['x-bext-cache'], 'HIT');
  });

  test('many concurrent HITs all complete, and the server still shuts down cleanly (checked in after)', async () => {
    await fetchRaw(dev.url + 'big.bin');
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => fetchRaw(dev.url + (i % 2 ? 'big.bin' : 'index.html'))));
    for (const [i, r] of all.entries()) {
      assert.equal(r.headers['x-bext-cache'], 'HIT');
      assert.equal(r.body.length, i % 2 ? 50 * 1024 : Buffer.byteLength(page));
    }
  });
});
