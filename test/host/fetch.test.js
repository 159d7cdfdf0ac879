// http_fetch through createFetchHandler against real node:http servers on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { createFetchHandler, MAX_REDIRECTS } from '../../dist/host/fetch/index.js';
import { permissions } from './harness.js';

// Refusals log at warn by design; keep this test's own output readable.
process.env.BEXT_LOG ??= 'silent';

let server;
let PORT;

function route(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (p === '/hello') return res.end('hello world');
  if (p === '/echo') {
    res.setHeader('content-type', 'application/json');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    return res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
  }
  if (p === '/binary') {
    res.setHeader('content-type', 'application/octet-stream');
    return res.end(Buffer.from([0, 1, 2, 250, 255]));
  }
  if (p === '/not-utf8') return res.end(Buffer.from([0x66, 0xff, 0x6f]));
  if (p === '/status/404') { res.statusCode = 404; return res.end('nope'); }
  if (p.startsWith('/chain/')) {
    const n = Number(p.slice(7));
    res.statusCode = 302;
    res.setHeader('location', n > 0 ? `/chain/${n - 1}` : '/hello');
    if (n === 0) res.setHeader('location', '/hello');
    return res.end();
  }
  if (p === '/redirect') {
    res.statusCode = Number(url.searchParams.get('status') ?? 302);
    res.setHeader('location', url.searchParams.get('to'));
    return res.end('moved');
  }
  if (p === '/slow') return setTimeout(() => res.end('late'), 2_000).unref();
  if (p === '/slow-body') {
    res.write('start');
    return setTimeout(() => res.end('end'), 2_000).unref();
  }
  if (p === '/sized') {
    const n = Number(url.searchParams.get('n'));
    if (url.searchParams.get('chunked')) {
      let left = n;
      const push = () => {
        while (left > 0) {
          const k = Math.min(left, 16 * 1024);
          left -= k;
          if (!res.write(Buffer.alloc(k, 0x61))) return res.once('drain', push);
        }
        res.end();
      };
      return push();
    }
    res.setHeader('content-length', n);
    return res.end(Buffer.alloc(n, 0x61));
  }
  res.statusCode = 500;
  res.end('unknown route');
}

before(async () => {
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => route(req, res, Buffer.concat(chunks).toString()));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  PORT = server.address().port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function plugin(perms, name = 'fetcher') {
  return { name, permissions: permissions(perms) };
}

/** A handler plus the refusals it reported. */
function handler(perms, opts = {}) {
  const refused = [];
  const h = createFetchHandler(plugin(perms), { onRefused: (p, url, reason) => refused.push({ p, url, reason }), ...opts });
  return { fetch: async (req) => JSON.parse(await h(typeof req === 'string' ? req : JSON.stringify(req))), refused, h };
}

const local = () => [`http://127.0.0.1:${PORT}/*`];

test('a literal 127.0.0.1 glob reaches the local server; text, JSON, headers, status', async () => {
  const { fetch, refused, h } = handler({ allowed_urls: local() });
  const r = await fetch({ url: `http://127.0.0.1:${PORT}/hello` });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello world');
  assert.equal(r.url, `http://127.0.0.1:${PORT}/hello`);
  assert.ok(r.headers.some(([k, v]) => k === 'content-length' && v === '11'));
  const e = await fetch({
    url: `http://127.0.0.1:${PORT}/echo`, method: 'post', headers: [['x-one', '1'], ['Host', 'evil.example'], ['Connection', 'close']], body: 'héllo',
  });
  const echoed = JSON.parse(e.body);
  assert.equal(echoed.method, 'POST');
  assert.equal(echoed.body, 'héllo');
  assert.equal(echoed.headers['x-one'], '1');
  assert.equal(echoed.headers.host, `127.0.0.1:${PORT}`); // the guest cannot pick another virtual host
  assert.deepEqual(e.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v), ['a=1', 'b=2']);
  const o = await fetch({ url: `http://127.0.0.1:${PORT}/echo`, headers: { 'x-obj': 'yes' } });
  assert.equal(JSON.parse(o.body).headers['x-obj'], 'yes');
  const nf = await fetch({ url: `http://127.0.0.1:${PORT}/status/404` });
  assert.equal(nf.status, 404);
  assert.equal(nf.body, 'nope');
  assert.equal(refused.length, 0);
  await h.close();
});

test('binary bodies come back as body_base64, request bodies may be body_base64', async () => {
  const { fetch, h } = handler({ allowed_urls: local() });
  const r = await fetch({ url: `http://127.0.0.1:${PORT}/binary` });
  assert.equal(r.body, undefined);
  assert.deepEqual([...Buffer.from(r.body_base64, 'base64')], [0, 1, 2, 250, 255]);
  const bad = await fetch({ url: `http://127.0.0.1:${PORT}/not-utf8` });
  assert.deepEqual([...Buffer.from(bad.body_base64, 'base64')], [0x66, 0xff, 0x6f]);
  const post = await fetch({ url: `http://127.0.0.1:${PORT}/echo`, method: 'PUT', body_base64: Buffer.from('bytes!').toString('base64') });
  assert.equal(JSON.parse(post.body).body, 'bytes!');
  await h.close();
});

test('invalid requests are error JSON, never a throw', async () => {
  const { fetch, refused, h } = handler({ allowed_urls: local() });
  for (const [req, msg] of [
    ['{nope', /invalid request: not JSON/],
    ['[1]', /expected a JSON object/],
    [{ method: 'GET' }, /"url" must be/],
    [{ url: 'not a url' }, /not an absolute URL/],
    [{ url: 'file:///etc/passwd' }, /only http and https/],
    [{ url: `http://u:p@127.0.0.1:${PORT}/` }, /credentials/],
    [{ url: `http://127.0.0.1:${PORT}/`, method: 'GE T' }, /method/],
    [{ url: `http://127.0.0.1:${PORT}/`, method: 'CONNECT' }, /CONNECT is not allowed/],
    [{ url: `http://127.0.0.1:${PORT}/`, headers: [['a']] }, /pair of strings/],
    [{ url: `http://127.0.0.1:${PORT}/`, headers: [['x', 'a\r\nInjected: 1']] }, /line break/],
    [{ url: `http://127.0.0.1:${PORT}/`, body: 'a', body_base64: 'YQ==' }, /either/],
    [{ url: `http://127.0.0.1:${PORT}/`, body: 5 }, /"body" must be a string/],
  ]) {
    const r = await fetch(req);
    assert.equal(r.status, 0, JSON.stringify(req));
    assert.match(r.error, msg);
  }
  assert.ok(refused.every((r) => r.p === 'fetcher'));
  await h.close();
});

test('URLs outside allowed_urls are refused and reported; an empty list means no network', async () => {
  const { fetch, refused, h } = handler({ allowed_urls: [`http://127.0.0.1:${PORT}/hello`] });
  assert.equal((await fetch({ url: `http://127.0.0.1:${PORT}/hello` })).status, 200);
  const r = await fetch({ url: `http://127.0.0.1:${PORT}/echo` });
  assert.deepEqual(r, { status: 0, error: `http://127.0.0.1:${PORT}/echo is not in allowed_urls` });
  assert.deepEqual(refused, [{ p: 'fetcher', url: `http://127.0.0.1:${PORT}/echo`, reason: r.error }]);
  await h.close();
  const none = handler({ allowed_urls: [] });
  const n = await none.fetch({ url: `http://127.0.0.1:${PORT}/hello` });
  assert.equal(n.status, 0);
  assert.match(n.error, /allowed_urls is empty \(no network\)/);
  assert.equal(none.refused.length, 1);
});

test('redirects: followed by hand up to 5, every hop re-checked', async () => {
  const base = `http://127.0.0.1:${PORT}`;
  const { fetch, refused, h } = handler({ allowed_urls: local() });
  const ok = await fetch({ url: `${base}/chain/${MAX_REDIRECTS - 1}` }); // 5 redirects in all
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'hello world');
  assert.equal(ok.url, `${base}/hello`);
  const tooMany = await fetch({ url: `${base}/chain/${MAX_REDIRECTS}` }); // 6
  assert.equal(tooMany.status, 0);
  assert.match(tooMany.error, /more than 5 redirects/);
  // allowed → disallowed
  const out = await fetch({ url: `${base}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${PORT + 1}/x`)}` });
  assert.equal(out.status, 0);
  assert.equal(out.error, `redirect to http://127.0.0.1:${PORT + 1}/x is not in allowed_urls`);
  const scheme = await fetch({ url: `${base}/redirect?to=${encodeURIComponent('file:///etc/passwd')}` });
  assert.match(scheme.error, /only http and https/);
  assert.equal(refused.length, 3);
  await h.close();
});

test('redirects: allowed host → 127.0.0.1 is refused unless 127.0.0.1 is named literally', async () => {
  // app.test stands for a local service, so it needs allow_private_networks itself.
  const lookup = async (host) => (host === 'app.test' ? ['127.0.0.1'] : []);
  const privateOk = { allow_private_networks: true };
  const to = encodeURIComponent(`http://127.0.0.1:${PORT}/hello`);
  // Only app.test is allowed: the 127.0.0.1 hop is not in allowed_urls.
  const a = handler({ allowed_urls: [`http://app.test:${PORT}/*`], ...privateOk }, { lookup });
  const r1 = await a.fetch({ url: `http://app.test:${PORT}/redirect?to=${to}` });
  assert.equal(r1.error, `redirect to http://127.0.0.1:${PORT}/hello is not in allowed_urls`);
  // A wildcard host matches the hop, but a wildcard never unlocks a loopback IP (not even with allow_private_networks).
  const b = handler({ allowed_urls: [`http://app.test:${PORT}/*`, `http://*:${PORT}/*`], ...privateOk }, { lookup });
  const r2 = await b.fetch({ url: `http://app.test:${PORT}/redirect?to=${to}` });
  assert.equal(r2.status, 0);
  assert.match(r2.error, /127\.0\.0\.1 is a loopback address; plugins may reach it only when an allowed_urls entry names the host literally/);
  assert.equal(b.refused.length, 1);
  // Named literally: followed, and credentials are not carried to the other origin.
  const c = handler({ allowed_urls: [`http://app.test:${PORT}/*`, `http://127.0.0.1:${PORT}/*`], ...privateOk }, { lookup });
  const echo = encodeURIComponent(`http://127.0.0.1:${PORT}/echo`);
  const r3 = await c.fetch({ url: `http://app.test:${PORT}/redirect?to=${echo}`, headers: [['authorization', 'Bearer s3cret'], ['x-keep', 'k']] });
  assert.equal(r3.status, 200);
  const seen = JSON.parse(r3.body).headers;
  assert.equal(seen.authorization, undefined);
  assert.equal(seen['x-keep'], 'k');
  for (const x of [a, b, c]) await x.h.close();
});

test('redirect methods: 303 and 302-after-POST become GET, 307/308 repeat method and body', async () => {
  const base = `http://127.0.0.1:${PORT}`;
  const { fetch, h } = handler({ allowed_urls: local() });
  const go = async (status, method) => {
    const r = await fetch({ url: `${base}/redirect?status=${status}&to=/echo`, method, body: 'payload', headers: [['content-type', 'text/plain']] });
    return JSON.parse(r.body);
  };
  assert.deepEqual(await go(303, 'PUT').then((e) => [e.method, e.body]), ['GET', '']);
  assert.deepEqual(await go(302, 'POST').then((e) => [e.method, e.body]), ['GET', '']);
  assert.deepEqual(await go(307, 'POST').then((e) => [e.method, e.body]), ['POST', 'payload']);
  assert.deepEqual(await go(308, 'PUT').then((e) => [e.method, e.body]), ['PUT', 'payload']);
  await h.close();
});

test('DNS answers are checked: a wildcard host resolving to a private address is refused', async () => {
  const answers = { 'evil.test': ['10.0.0.7'], 'loop.test': ['::1', '127.0.0.1'], 'mapped.test': [{ address: '::ffff:169.254.169.254', family: 6 }] };
  const lookups = [];
  const lookup = async (host) => { lookups.push(host); return answers[host] ?? []; };
  const { fetch, refused, h } = handler({ allowed_urls: [`http://*.test:${PORT}/*`] }, { lookup });
  const r1 = await fetch({ url: `http://evil.test:${PORT}/hello` });
  assert.equal(r1.status, 0);
  assert.match(r1.error, /evil\.test resolves to 10\.0\.0\.7, which is a private address/);
  assert.match((await fetch({ url: `http://loop.test:${PORT}/hello` })).error, /loop\.test resolves to ::1, which is a loopback address/);
  assert.match((await fetch({ url: `http://mapped.test:${PORT}/hello` })).error, /metadata address/);
  const unresolvable = await fetch({ url: `http://nowhere.test:${PORT}/hello` });
  assert.match(unresolvable.error, /cannot resolve nowhere\.test/);
  assert.deepEqual(lookups, ['evil.test', 'loop.test', 'mapped.test', 'nowhere.test']);
  assert.equal(refused.length, 3); // a DNS failure is an error, not a refusal
  await h.close();
});

test('IP literals are checked too, including IPv4-mapped IPv6', async () => {
  const { fetch, h } = handler({ allowed_urls: [`http://*:${PORT}/*`] });
  assert.match((await fetch({ url: `http://127.0.0.1:${PORT}/hello` })).error, /127\.0\.0\.1 is a loopback address/);
  assert.match((await fetch({ url: `http://[::ffff:127.0.0.1]:${PORT}/hello` })).error, /loopback address/);
  assert.match((await fetch({ url: `http://0.0.0.0:${PORT}/hello` })).error, /is an unspecified address/);
  await h.close();
});

test('a literally named host connects to the address that was checked (no second DNS lookup)', async () => {
  // pinned.test does not exist in any real resolver: the request only works if the connection
  // goes to the address our lookup returned.
  let calls = 0;
  const lookup = async () => { calls++; return ['127.0.0.1']; };
  const { fetch, h } = handler({ allowed_urls: [`http://pinned.test:${PORT}/*`], allow_private_networks: true }, { lookup });
  for (let i = 0; i < 3; i++) {
    const r = await fetch({ url: `http://pinned.test:${PORT}/echo` });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers.host, `pinned.test:${PORT}`);
  }
  assert.equal(calls, 3);
  await h.close();
});

test('when an address refuses the connection, the next checked address is tried', async () => {
  // 127.0.0.2 is loopback on Linux, but the server listens on 127.0.0.1 only.
  const lookup = async () => ['127.0.0.2', '127.0.0.1'];
  const { fetch, h } = handler({ allowed_urls: [`http://dual.test:${PORT}/*`], allow_private_networks: true }, { lookup });
  const r = await fetch({ url: `http://dual.test:${PORT}/hello` });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello world');
  await h.close();
  const only = handler({ allowed_urls: [`http://dual.test:${PORT}/*`], allow_private_networks: true }, { lookup: async () => ['127.0.0.2'] });
  const refusedConn = await only.fetch({ url: `http://dual.test:${PORT}/hello` });
  assert.equal(refusedConn.status, 0);
  assert.match(refusedConn.error, /ECONNREFUSED/);
  assert.equal(only.refused.length, 0); // a network error, not a policy refusal
  await only.h.close();
});

test('timeout: headers that never come, and a body that stalls', async () => {
  const { fetch, refused, h } = handler({ allowed_urls: local(), fetch_timeout_ms: 200 });
  for (const path of ['/slow', '/slow-body']) {
    const t0 = Date.now();
    const r = await fetch({ url: `http://127.0.0.1:${PORT}${path}` });
    const took = Date.now() - t0;
    assert.deepEqual(r, { status: 0, error: 'timeout after 200 ms (fetch_timeout_ms)' });
    assert.ok(took >= 190 && took < 1500, `took ${took} ms`);
  }
  assert.equal(refused.length, 2);
  // A lookup that never answers is bounded by the same deadline.
  const stuck = handler({ allowed_urls: [`http://stuck.test:${PORT}/*`], fetch_timeout_ms: 150 }, { lookup: () => new Promise(() => {}) });
  assert.match((await stuck.fetch({ url: `http://stuck.test:${PORT}/` })).error, /timeout after 150 ms/);
  await h.close();
});

test('response cap: exactly max_response_bytes is fine, one more byte is refused', async () => {
  const cap = 100_000;
  const { fetch, refused, h } = handler({ allowed_urls: local(), max_response_bytes: cap });
  for (const chunked of ['', '&chunked=1']) {
    const ok = await fetch({ url: `http://127.0.0.1:${PORT}/sized?n=${cap}${chunked}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, cap);
    const big = await fetch({ url: `http://127.0.0.1:${PORT}/sized?n=${cap + 1}${chunked}` });
    assert.equal(big.status, 0);
    assert.match(big.error, /max_response_bytes \(100000 bytes\)/);
  }
  const huge = await fetch({ url: `http://127.0.0.1:${PORT}/sized?n=${50 * 1024 * 1024}&chunked=1` });
  assert.match(huge.error, /larger than max_response_bytes/);
  assert.equal(refused.length, 3);
  await h.close();
});

test('rate limit: capacity = rate, then one token per 60000/rate ms, at the exact boundary', async () => {
  let t = 1_000_000;
  const { fetch, refused, h } = handler({ allowed_urls: local(), max_fetch_per_minute: 3 }, { now: () => t });
  const url = `http://127.0.0.1:${PORT}/hello`;
  for (let i = 0; i < 3; i++) assert.equal((await fetch({ url })).status, 200);
  const limited = await fetch({ url });
  assert.equal(limited.status, 0);
  assert.match(limited.error, /^rate limited: max_fetch_per_minute is 3; next token in 20000 ms$/);
  t += 19_999;
  assert.match((await fetch({ url })).error, /^rate limited: .*next token in 1 ms$/);
  t += 1;
  assert.equal((await fetch({ url })).status, 200);
  assert.equal((await fetch({ url })).status, 0);
  // A long idle refills to capacity, never beyond it.
  t += 10 * 60_000;
  for (let i = 0; i < 3; i++) assert.equal((await fetch({ url })).status, 200);
  assert.equal((await fetch({ url })).status, 0);
  assert.equal(refused.length, 4);
  assert.ok(refused.every((r) => r.reason.startsWith('rate limited')));
  await h.close();
  const zero = handler({ allowed_urls: local(), max_fetch_per_minute: 0 });
  assert.equal((await zero.fetch({ url })).error, 'rate limited: max_fetch_per_minute is 0');
});

test('invalid allowed_urls fail handler creation with a config error', () => {
  assert.throws(() => createFetchHandler(plugin({ allowed_urls: ['example.com'] })), (err) => {
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /plugin fetcher: allowed_urls entry "example.com": the scheme is missing/);
    return true;
  });
});

test('every refusal is logged at warn with plugin, URL and reason', () => {
  const script = `
    import { createFetchHandler } from './dist/host/fetch/index.js';
    const h = createFetchHandler({ name: 'logger-test', permissions: ${JSON.stringify(permissions({ allowed_urls: ['https://api.example.com/*'] }))} });
    await h(JSON.stringify({ url: 'https://elsewhere.example.com/x' }));
    await h.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, BEXT_LOG_FORMAT: 'json', BEXT_LOG: 'info' }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stderr.trim().split('\n').find((l) => l.includes('http_fetch refused')));
  assert.equal(line.level, 40);
  assert.equal(line.plugin, 'logger-test');
  assert.equal(line.url, 'https://elsewhere.example.com/x');
  assert.equal(line.reason, 'https://elsewhere.example.com/x is not in allowed_urls');
});
