// Static files through the real `bext dev`: content types, ETag/304, index.html, traversal refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { makeProject, writeConfig, startDev, rawRequest } from './dev.js';
import { bext } from '../helpers/cli.js';

let dir;
let dev;
const secret = 'TOP-SECRET-OUTSIDE-ROOT';

before(async () => {
  dir = makeProject({
    'index.html': '<h1>home</h1>',
    'style.css': 'body{}',
    'app.js': 'export {}',
    'data.json': '{"a":1}',
    'logo.svg': '<svg/>',
    'blob.bin': Buffer.from([1, 2, 3]),
    'docs/index.html': '<h1>docs</h1>',
    'big.txt': 'x'.repeat(400 * 1024),
    '.env': 'HIDDEN=1',
  });
  writeFileSync(path.join(dir, 'secret.txt'), secret);
  symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'public', 'leak.txt'));
  mkdirSync(path.join(dir, 'outside'));
  writeFileSync(path.join(dir, 'outside', 'x.txt'), secret);
  symlinkSync(path.join(dir, 'outside'), path.join(dir, 'public', 'linkdir'));
  writeConfig(dir, '[server]\nroot = "./public"\n[cache]\nenabled = false\n');
  dev = await startDev(dir, { args: ['--no-watch'] });
});

after(async () => {
  const r = await dev?.stop();
  assert.equal(r?.code, 0);
});

test('serves files with their content types', async () => {
  const cases = {
    '/': 'text/html; charset=utf-8',
    '/style.css': 'text/css; charset=utf-8',
    '/app.js': 'text/javascript; charset=utf-8',
    '/data.json': 'application/json; charset=utf-8',
    '/logo.svg': 'image/svg+xml; charset=utf-8',
    '/blob.bin': 'application/octet-stream',
  };
  for (const [p, type] of Object.entries(cases)) {
    const res = await fetch(dev.url + p.slice(1));
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get('content-type'), type, p);
    assert.equal(res.headers.get('x-bext-cache'), 'BYPASS', p);
    await res.arrayBuffer();
  }
  assert.equal(await (await fetch(dev.url)).text(), '<h1>home</h1>');
});

test('a folder serves its index.html; without a trailing slash it redirects first', async () => {
  const res = await fetch(dev.url + 'docs', { redirect: 'manual' });
  assert.equal(res.status, 301);
  assert.equal(res.headers.get('location'), '/docs/');
  const page = await fetch(dev.url + 'docs/');
  assert.equal(await page.text(), '<h1>docs</h1>');
});

test('ETag and If-None-Match give 304; a large file streams whole', async () => {
  const first = await fetch(dev.url + 'style.css');
  const etag = first.headers.get('etag');
  assert.match(etag, /^W\/"/);
  await first.text();
  const again = await fetch(dev.url + 'style.css', { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const other = await fetch(dev.url + 'style.css', { headers: { 'if-none-match': 'W/"nope"' } });
  assert.equal(other.status, 200);
  await other.text();
  const big = await fetch(dev.url + 'big.txt');
  assert.equal((await big.text()).length, 400 * 1024);
});

test('HEAD has headers and no body; missing files are 404 pages', async () => {
  const head = await rawRequest(dev.url, '/data.json', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '7');
  assert.equal(head.body, '');
  const missing = await fetch(dev.url + 'nope.html');
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /\/nope\.html was not found/);
  const hidden = await fetch(dev.url + '.env');
  assert.equal(hidden.status, 404);
});

test('path traversal is refused in every spelling', async () => {
  const attempts = [
    '/../secret.txt',
    '/../../../../etc/passwd',
    '/%2e%2e/secret.txt',
    '/%2E%2E/%2e%2e/etc/passwd',
    '/docs/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/%00secret.txt',
    '/leak.txt',
    '/linkdir/x.txt',
    '//etc/passwd',
    'http://evil.example/../secret.txt',
  ];
  for (const target of attempts) {
    const r = await rawRequest(dev.url, target);
    assert.ok([400, 403, 404].includes(r.status), `${target} → ${r.status}`);
    assert.ok(!r.body.includes(secret), `${target} leaked the file`);
    assert.ok(!r.body.includes('root:'), `${target} leaked /etc/passwd`);
  }
  // The ones that name a parent folder are 403, not a mere 404.
  for (const target of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/leak.txt', '/linkdir/x.txt']) {
    assert.equal((await rawRequest(dev.url, target)).status, 403, target);
  }
});

test('a port in use is a clear error with a -p hint (exit 1)', async () => {
  const blocker = createServer();
  await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
  const port = blocker.address().port;
  try {
    const r = bext(['dev', '-c', path.join(dir, 'bext.config.toml'), '-p', String(port), '--no-watch'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.match(r.stderr, /-p/);
  } finally {
    blocker.close();
  }
});

test('a bad config exits 2 naming the problem; a bad -p is a usage error', () => {
  const bad = makeProject();
  writeConfig(bad, '[server]\nprot = 3000\n');
  const r = bext(['dev', '-c', path.join(bad, 'bext.config.toml')], { cwd: bad });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /prot/);
  const p = bext(['dev', '-c', path.join(dir, 'bext.config.toml'), '-p', 'eighty'], { cwd: dir });
  assert.equal(p.code, 2);
  assert.match(p.stderr, /-p\/--port must be a whole number/);
});
