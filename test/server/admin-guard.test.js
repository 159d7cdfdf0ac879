// The admin API and pages in the user's browser: DNS rebinding (a foreign Host), cross-site
// requests (a foreign Origin) and simple requests that change state (text/plain, forms) are
// refused; bext's own CLI and a same-origin page keep working.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isAllowedAdminHost, isOwnOrigin } from '../../dist/server/admin-guard.js';
import { bextAsync } from '../helpers/cli.js';
import { makeProject, writeConfig, writePlugin, startDev, rawRequest } from './helpers.js';

describe('isAllowedAdminHost', () => {
  const yes = ['localhost:3000', 'LOCALHOST:3000', 'localhost', 'localhost.:3000', 'app.localhost:3000', '127.0.0.1:3000', '127.1.2.3', '[::1]:3000', '[::ffff:127.0.0.1]:3000'];
  const no = ['evil.example:3000', '127.0.0.1.evil.example:3000', 'localhost.evil.example', 'evil.example', '10.0.0.1:3000', '0.0.0.0:3000', '[::]:3000', '', undefined, 'localhost:3000@evil.example', 'a b'];
  for (const h of yes) test(`${h} is allowed`, () => assert.equal(isAllowedAdminHost(h, '127.0.0.1'), true));
  for (const h of no) test(`${String(h)} is refused`, () => assert.equal(isAllowedAdminHost(h, '127.0.0.1'), false));
  test('the configured host name is allowed, a wildcard bind is no name', () => {
    assert.equal(isAllowedAdminHost('devbox.internal:3000', 'devbox.internal'), true);
    assert.equal(isAllowedAdminHost('DEVBOX.internal', 'devbox.internal'), true);
    assert.equal(isAllowedAdminHost('0.0.0.0:3000', '0.0.0.0'), false);
    assert.equal(isAllowedAdminHost('[::]:3000', '::'), false);
  });
});

describe('isOwnOrigin', () => {
  test('same scheme, host and port only', () => {
    assert.equal(isOwnOrigin('http://localhost:3000', 'localhost:3000'), true);
    assert.equal(isOwnOrigin('http://LOCALHOST:3000', 'localhost:3000'), true);
    assert.equal(isOwnOrigin('http://localhost', 'localhost:80'), true);
    assert.equal(isOwnOrigin('http://localhost:5173', 'localhost:3000'), false);
    assert.equal(isOwnOrigin('https://localhost:3000', 'localhost:3000'), false);
    assert.equal(isOwnOrigin('http://127.0.0.1:3000', 'localhost:3000'), false);
    assert.equal(isOwnOrigin('http://evil.example', 'localhost:3000'), false);
    assert.equal(isOwnOrigin('null', 'localhost:3000'), false);
  });
});

describe('admin API against a running bext dev', () => {
  let dir;
  let dev;
  let port;
  let base;
  before(async () => {
    dir = makeProject({ 'index.html': 'hi' });
    writePlugin(dir, 'rec.wasm');
    writeConfig(dir, '[server]\nroot = "./public"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n');
    dev = await startDev(dir, { args: ['--no-watch'] });
    port = Number(new URL(dev.url).port);
    base = `http://127.0.0.1:${port}`;
    // The CLI finds the server through the config's port.
    writeConfig(dir, `[server]\nroot = "./public"\nport = ${port}\n[plugins.rec]\npath = "./plugins/rec.wasm"\n`);
  });
  after(async () => assert.equal((await dev.stop()).code, 0));

  const get = (target, headers = {}) => rawRequest(base, target, { headers });
  const post = (target, headers = {}, body = '') =>
    rawRequest(base, target, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers }, body });

  test('a foreign Host (DNS rebinding) is refused on every GET route; the site itself is still served', async () => {
    for (const route of ['', 'plugins', 'stats', 'stats/rec', 'metrics']) {
      for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`]) {
        const r = await rawRequest(base, `/__bext/${route}`, { host });
        assert.equal(r.status, 403, `${host} /__bext/${route}`);
        assert.match(JSON.parse(r.body).error, /DNS rebinding/);
        assert.ok(!r.body.includes('rec.wasm') && !r.body.includes('"rec"'), r.body);
      }
    }
    const site = await rawRequest(base, '/index.html', { host: `evil.example:${port}` });
    assert.equal(site.status, 200);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await rawRequest(base, '/__bext/plugins', { host })).status, 200, host);
    }
  });

  test('a foreign Origin is refused, bext’s own origin is answered', async () => {
    for (const origin of ['http://evil.example', `http://localhost:${port + 1}`, 'null', `https://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const r = await get('/__bext/stats', { origin });
      assert.equal(r.status, 403, origin);
      assert.match(JSON.parse(r.body).error, /another origin/);
    }
    const own = await get('/__bext/stats', { origin: base });
    assert.equal(own.status, 200);
  });

  test('state changes need application/json: text/plain, forms and no type are 415; nothing is reloaded', async () => {
    const starts = () => dev.guest('rec').filter((m) => m.startsWith('v1 start')).length;
    const before = starts();
    const simple = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain;charset=UTF-8' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      {},
    ];
    for (const headers of simple) {
      for (const [route, body] of [['/__bext/reload', '{}'], ['/__bext/cache/invalidate', '{"pattern":"page:**"}']]) {
        const r = await post(route, headers, body);
        assert.equal(r.status, 415, `${route} ${JSON.stringify(headers)}`);
        assert.match(JSON.parse(r.body).error, /application\/json/);
      }
    }
    // A JSON post from another origin or another site is refused too.
    const cross = await post('/__bext/reload', { 'content-type': 'application/json', origin: 'http://evil.example' }, '{}');
    assert.equal(cross.status, 403);
    const site = await post('/__bext/reload', { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, '{}');
    assert.equal(site.status, 403);
    const rebound = await rawRequest(base, '/__bext/reload', {
      method: 'POST',
      host: `evil.example:${port}`,
      headers: { 'content-type': 'application/json', 'content-length': 2 },
      body: '{}',
    });
    assert.equal(rebound.status, 403);
    assert.equal(starts(), before, 'no refused request reloaded the plugins');
  });

  test('a same-origin JSON request changes state (what a dashboard under /__bext/ does)', async () => {
    const r = await post('/__bext/reload', { 'content-type': 'application/json', origin: base, 'sec-fetch-site': 'same-origin' }, '');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body).reloaded, ['rec']);
    const inv = await post('/__bext/cache/invalidate', { 'content-type': 'application/json; charset=utf-8' }, '{"pattern":"page:**"}');
    assert.equal(inv.status, 200, inv.body);
    // fetch() with a JSON type, as bext's own tools and the docs do.
    const f = await fetch(`${base}/__bext/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(f.status, 200);
  });

  test('bext plugin list and plugin stats still reach the live server', async () => {
    const list = await bextAsync(['plugin', 'list'], { cwd: dir });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^source: live/m);
    const stats = await bextAsync(['plugin', 'stats', 'rec'], { cwd: dir });
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /^source: live/m);
  });
});
