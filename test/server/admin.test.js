// The admin API answers loopback peers only, judged by the socket address (never by headers).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import { isLoopbackAddress } from '../../dist/server/loopback.js';
import { makeProject, writeConfig, writePlugin, startDev } from './helpers.js';

describe('isLoopbackAddress', () => {
  const yes = ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9', '::ffff:7f00:1'];
  const no = ['10.0.0.1', '192.168.1.20', '8.8.8.8', '128.0.0.1', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', '::ffff:0a00:1', '0.0.0.0', '', undefined, 'localhost', '127.0.0.1.example.com'];
  for (const a of yes) test(`${a} is loopback`, () => assert.equal(isLoopbackAddress(a), true));
  for (const a of no) test(`${String(a)} is not loopback`, () => assert.equal(isLoopbackAddress(a), false));
});

function get(url, { headers = {}, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, localAddress }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
  });
}

function externalIPv4() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

describe('admin API over HTTP', () => {
  let dev;
  let port;
  before(async () => {
    const dir = makeProject({ 'index.html': 'hi' });
    writePlugin(dir, 'rec.wasm');
    writeConfig(dir, '[server]\nroot = "./public"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n[plugins.off]\npath = "./plugins/none.wasm"\nenabled = false\n');
    dev = await startDev(dir, { args: ['--no-watch', '--host', '0.0.0.0'] });
    port = new URL(dev.url).port;
  });
  after(async () => assert.equal((await dev.stop()).code, 0));

  test('loopback peers get plugins, stats and metrics, whatever X-Forwarded-For says', async () => {
    const r = await get(`http://127.0.0.1:${port}/__bext/plugins`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(r.status, 200);
    const plugins = JSON.parse(r.body);
    assert.equal(plugins.length, 2);
    const rec = plugins.find((p) => p.name === 'rec');
    assert.equal(rec.state, 'loaded');
    assert.ok(rec.hooks.includes('on_request_complete'));
    assert.equal(rec.budgets.on_request_complete, 100_000_000);
    assert.equal(plugins.find((p) => p.name === 'off').state, 'disabled');
    const other = await get(`http://127.0.0.1:${port}/__bext/stats`, { localAddress: '127.0.0.5' });
    assert.equal(other.status, 200);
    assert.ok(JSON.parse(other.body).plugins.rec);
    const unknown = await get(`http://127.0.0.1:${port}/__bext/stats/nobody`);
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.body).known, ['off', 'rec']);
    const metrics = await get(`http://127.0.0.1:${port}/__bext/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /# TYPE bext_http_responses_total counter/);
  });

  test('a non-loopback peer is refused even with a spoofed X-Forwarded-For', async (t) => {
    const ip = externalIPv4();
    if (!ip) return t.skip('this machine has no non-loopback IPv4 address');
    for (const p of ['plugins', 'stats', 'metrics']) {
      const r = await get(`http://${ip}:${port}/__bext/${p}`, { headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1', forwarded: 'for=127.0.0.1' } });
      assert.equal(r.status, 403, p);
      assert.match(JSON.parse(r.body).error, /loopback/);
    }
    const post = await new Promise((resolve, reject) => {
      const req = http.request(`http://${ip}:${port}/__bext/cache/invalidate`, { method: 'POST', headers: { 'x-forwarded-for': '127.0.0.1' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end('{"pattern":"page:/**"}');
    });
    assert.equal(post, 403);
    // The site itself is still served to that peer.
    const page = await get(`http://${ip}:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(page.body, 'hi');
  });
});
