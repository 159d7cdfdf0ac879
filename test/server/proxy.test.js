// Reverse proxy through the real `bext dev`: streaming, hop-by-hop headers, bodies, tags, 502, STALE.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { makeProject, writeConfig, writePlugin, startDev, sleep, rawRequest } from './helpers.js';

let dir;
let dev;
let upstream;
let upstreamPort;
let release;
const seen = [];
const tunnels = new Set();

before(async () => {
  upstream = http.createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part1;');
      new Promise((r) => (release = r)).then(() => res.end('part2'));
      return;
    }
    if (req.url === '/headers') {
      const body = JSON.stringify(req.headers);
      res.writeHead(200, {
        'content-length': Buffer.byteLength(body),
        'content-type': 'application/json',
        connection: 'x-secret-hop',
        'x-secret-hop': '1',
        'keep-alive': 'timeout=77',
        'x-app': 'yes',
      });
      res.end(body);
      return;
    }
    if (req.url === '/echo') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain' });
        res.end(`${req.method}:${Buffer.concat(chunks).toString()}`);
      });
      return;
    }
    if (req.url.startsWith('/tagged')) {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-tag': 'blog, post-1', 'x-bext-tags': 'extra' });
      res.end(`tagged ${req.url}`);
      return;
    }
    if (req.url === '/private') {
      res.writeHead(200, { 'cache-control': 'private, max-age=60' });
      res.end('mine');
      return;
    }
    if (req.url === '/gz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gzipSync('compressed body'));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('upstream 404');
  });
  upstream.on('upgrade', (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\nx-path: ${req.url}\r\n\r\n`);
    socket.on('data', (d) => socket.write(`echo:${d}`));
    socket.on('end', () => socket.end());
    tunnels.add(socket);
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = upstream.address().port;
  dir = makeProject({ 'local.txt': 'from disk' });
  writePlugin(dir, 'rec.wasm');
  writeConfig(
    dir,
    `[server]\nroot = "./public"\nupstream = "http://127.0.0.1:${upstreamPort}"\n[cache]\nttl_secs = 1\n` +
      `[plugins.rec]\npath = "./plugins/rec.wasm"\n`,
  );
  dev = await startDev(dir, { args: ['--no-watch'] });
});

after(async () => {
  upstream.closeAllConnections?.();
  upstream.close();
  const r = await dev?.stop();
  assert.equal(r?.code, 0);
});

test('files in the root are served from disk; everything else goes to the upstream', async () => {
  assert.equal(await (await fetch(dev.url + 'local.txt')).text(), 'from disk');
  const res = await fetch(dev.url + 'nothing-here');
  assert.equal(res.status, 404);
  assert.equal(await res.text(), 'upstream 404');
});

test('the response streams: the first chunk arrives before the upstream finishes', async () => {
  const res = await request(dev.url + 'stream');
  const it = res.body[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value.toString(), 'part1;');
  release();
  let rest = '';
  for (let n = await it.next(); !n.done; n = await it.next()) rest += n.value.toString();
  assert.equal(rest, 'part2');
});

test('hop-by-hop headers are dropped both ways; X-Forwarded-* are set', async () => {
  // Raw request: HTTP clients normalise the Connection header themselves.
  const res = await rawRequest(dev.url, '/headers', {
    headers: { 'x-client': 'c', te: 'trailers', 'proxy-authorization': 'Basic abc', connection: 'x-drop-me', 'x-drop-me': 'secret' },
  });
  assert.equal(res.headers['x-app'], 'yes');
  assert.equal(res.headers['x-secret-hop'], undefined);
  assert.notEqual(res.headers['keep-alive'], 'timeout=77');
  const got = JSON.parse(res.body);
  assert.equal(got['x-client'], 'c');
  assert.equal(got['proxy-authorization'], undefined);
  assert.equal(got.te, undefined);
  assert.equal(got['x-drop-me'], undefined);
  assert.equal(got['x-forwarded-for'], '127.0.0.1');
  assert.equal(got['x-forwarded-host'], new URL(dev.url).host);
  assert.equal(got.host, `127.0.0.1:${upstreamPort}`);
});

test('request bodies are forwarded; POST is never cached', async () => {
  const res = await fetch(dev.url + 'echo', { method: 'POST', body: 'hello upstream' });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('x-bext-cache'), 'BYPASS');
  assert.equal(await res.text(), 'POST:hello upstream');
});

test('cache tags from cache-tag and x-bext-tags reach on_cache_write; HIT after MISS', async () => {
  const a = await fetch(dev.url + 'tagged?x=1');
  assert.equal(a.headers.get('x-bext-cache'), 'MISS');
  await a.text();
  const b = await fetch(dev.url + 'tagged?x=1');
  assert.equal(b.headers.get('x-bext-cache'), 'HIT');
  assert.equal(await b.text(), 'tagged /tagged?x=1');
  const msg = await dev.waitFor(() => dev.guest('rec').find((m) => m.startsWith('v1 write page:/tagged?x=1')), 30_000, 'on_cache_write');
  assert.equal(msg, 'v1 write page:/tagged?x=1 ["blog","post-1","extra"]');
  // Purge by tag: every entry carrying it goes, and plugins hear "tag:<name>".
  await (await fetch(dev.url + 'tagged?x=2')).text();
  const purge = await fetch(dev.url + '__bext/cache/invalidate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tag":"post-1"}' });
  assert.deepEqual(await purge.json(), { tag: 'post-1', removed: 2 });
  const after = await fetch(dev.url + 'tagged?x=1');
  assert.equal(after.headers.get('x-bext-cache'), 'MISS');
  await after.text();
  await dev.waitFor(() => dev.guest('rec').includes('v1 invalidate tag:post-1 2'), 30_000, 'on_cache_invalidate for the tag');
  const bad = await fetch(dev.url + '__bext/cache/invalidate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tag":""}' });
  assert.equal(bad.status, 400);
});

test('private responses are not stored (BYPASS); compressed bodies pass through untouched', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await fetch(dev.url + 'private');
    assert.equal(r.headers.get('x-bext-cache'), 'BYPASS');
    await r.text();
  }
  const gz = await request(dev.url + 'gz', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  const raw = Buffer.from(await gz.body.arrayBuffer());
  assert.deepEqual(raw, gzipSync('compressed body'));
  const ev = await dev.waitFor(
    () => dev.guest('rec').map((m) => (m.startsWith('v1 event ') ? JSON.parse(m.slice(9)) : null)).find((e) => e?.path === '/gz'),
    30_000,
    'event for /gz',
  );
  assert.equal(ev.encoding, 'gzip');
});

test('protocol upgrades (WebSocket/HMR) are piped to the upstream', async () => {
  const u = new URL(dev.url);
  const { socket, res } = await new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: '/hmr?token=1', headers: { connection: 'Upgrade', upgrade: 'echo' } });
    req.on('upgrade', (res, socket) => resolve({ res, socket }));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 101);
  assert.equal(res.headers['x-path'], '/hmr?token=1');
  const reply = new Promise((r) => socket.once('data', (d) => r(d.toString())));
  socket.write('ping');
  assert.equal(await reply, 'echo:ping');
  socket.destroy();
});

test('upstream down: an expired copy is served as STALE, anything else is a 502 that says so', async () => {
  const warm = await fetch(dev.url + 'tagged?stale=1');
  assert.equal(warm.headers.get('x-bext-cache'), 'MISS');
  await warm.text();
  await sleep(1100); // ttl_secs = 1
  upstream.closeAllConnections?.();
  for (const t of tunnels) t.destroy();
  await new Promise((r) => upstream.close(r));
  const stale = await fetch(dev.url + 'tagged?stale=1');
  assert.equal(stale.headers.get('x-bext-cache'), 'STALE');
  assert.equal(await stale.text(), 'tagged /tagged?stale=1');
  const down = await fetch(dev.url + 'never-cached');
  assert.equal(down.status, 502);
  const page = await down.text();
  assert.match(page, /Bad Gateway/);
  assert.match(page, new RegExp(`upstream http://127\\.0\\.0\\.1:${upstreamPort}: connection refused`));
});
