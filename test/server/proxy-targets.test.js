// The reverse proxy only ever connects to server.upstream, whatever the request target looks like:
// absolute-form targets naming another authority, `//host/...` and `/\host/...` paths, CONNECT.
// A second loopback address (127.0.0.2) plays the "other host" that must never be reached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { makeProject, writeConfig, startDev, rawRequest } from './dev.js';

let dev;
let bextPort;
let upstream;
let upstreamPort;
let other;
let otherPort;
const upstreamSeen = [];
const otherSeen = [];

function recorder(seen, name) {
  return http.createServer((req, res) => {
    seen.push(req.url);
    const body = `${name} ${req.url}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

before(async () => {
  upstream = recorder(upstreamSeen, 'upstream');
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = upstream.address().port;
  other = recorder(otherSeen, 'other');
  await new Promise((r) => other.listen(0, '127.0.0.2', r));
  otherPort = other.address().port;
  const dir = makeProject({ 'local.txt': 'from disk' });
  writeConfig(dir, `[server]\nroot = "./public"\nupstream = "http://127.0.0.1:${upstreamPort}"\n[cache]\nenabled = false\n`);
  dev = await startDev(dir, { args: ['--no-watch'] });
  bextPort = Number(new URL(dev.url).port);
});

after(async () => {
  upstream.closeAllConnections?.();
  upstream.close();
  other.closeAllConnections?.();
  other.close();
  assert.equal((await dev.stop()).code, 0);
});

test('absolute-form targets naming another authority are a 400, never forwarded there', async () => {
  const o = `127.0.0.2:${otherPort}`;
  const targets = [
    `http://${o}/x`,
    `HTTP://${o}/x`,
    `https://${o}/x`,
    `http://${o}`,
    `http://user@${o}/x`,
    `http://127.0.0.1:${bextPort}@${o}/x`,
    `http://${o}/__bext/plugins`,
    `ws://${o}/x`,
    `http://127.0.0.1:${upstreamPort}/x`,
    `http://127.0.0.1/x`,
    `http://evil.example:${bextPort}/x`,
  ];
  for (const target of targets) {
    const r = await rawRequest(dev.url, target);
    assert.equal(r.status, 400, `${target} → ${r.status} ${r.body}`);
    assert.ok(!r.body.includes('other '), `${target} reached the other host`);
  }
  assert.deepEqual(otherSeen, []);
  assert.ok(!upstreamSeen.some((u) => u === '/x'), `the upstream saw ${upstreamSeen.join(', ')}`);
});

test("absolute-form naming bext's own host:port is served as its path", async () => {
  const own = await rawRequest(dev.url, `http://127.0.0.1:${bextPort}/local.txt`);
  assert.equal(own.status, 200);
  assert.equal(own.body, 'from disk');
  const viaName = await rawRequest(dev.url, `http://localhost:${bextPort}/app/page?q=1`);
  assert.equal(viaName.status, 200);
  assert.equal(viaName.body, 'upstream /app/page?q=1');
  // The admin API through its own authority: still the admin API, still loopback-only by peer.
  const admin = await rawRequest(dev.url, `http://127.0.0.1:${bextPort}/__bext/plugins`);
  assert.equal(admin.status, 200);
  assert.deepEqual(JSON.parse(admin.body), []);
  assert.deepEqual(otherSeen, []);
});

test('paths that look like //host or /\\host stay paths on the upstream', async () => {
  const o = `127.0.0.2:${otherPort}`;
  const targets = [`//${o}/x`, `/\\${o}/x`, `/\\/${o}/x`, `//${o}`, `///${o}/x`, `/%2F${o}/x`, `//__bext/plugins`];
  for (const target of targets) {
    const r = await rawRequest(dev.url, target);
    assert.equal(r.status, 200, `${target} → ${r.status} ${r.body}`);
    assert.equal(r.body, `upstream ${target}`, target);
  }
  assert.deepEqual(otherSeen, []);
  for (const target of targets) assert.ok(upstreamSeen.includes(target), `the upstream did not see ${target}`);
});

test('odd targets on the static root neither leave the root nor reach another host', async () => {
  for (const target of ['//local.txt', '/\\local.txt', `//127.0.0.2:${otherPort}/local.txt`, '/\\..\\local.txt']) {
    const r = await rawRequest(dev.url, target);
    assert.ok([200, 400, 403, 404].includes(r.status), `${target} → ${r.status}`);
    assert.ok(!r.body.startsWith('other '), target);
  }
  assert.deepEqual(otherSeen, []);
});

test('CONNECT and asterisk-form are refused', async () => {
  const connect = await rawRequest(dev.url, `127.0.0.2:${otherPort}`, { method: 'CONNECT' });
  assert.ok(Number.isNaN(connect.status) || connect.status >= 400, `CONNECT → ${connect.status}`);
  const star = await rawRequest(dev.url, '*', { method: 'OPTIONS' });
  assert.equal(star.status, 400);
  assert.deepEqual(otherSeen, []);
});
