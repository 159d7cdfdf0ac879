// A DNS name in allowed_urls must not carry a plugin onto loopback, private or link-local networks
// (whoever controls the name's DNS would choose the target) unless the plugin has
// allow_private_networks = true. IP literals and `localhost` named in allowed_urls stay allowed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createFetchHandler } from '../../dist/host/fetch/index.js';
import { refusalFor } from '../../dist/host/fetch/address-policy.js';
import { permissions } from './harness.js';
import { startDns } from './dns-server.js';
import { fetcherProject, runFetcher } from './fetch-guest.js';

process.env.BEXT_LOG ??= 'silent';

let server;
let PORT;
let hits = 0;

before(async () => {
  server = http.createServer((req, res) => {
    hits++;
    res.end(`local service saw ${req.headers.host}`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  PORT = server.address().port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const POLICY_CASES = [
  // [host, isIp, namedLiterally, allowPrivateNetworks, address, expected: null = allowed | RegExp]
  ['api.example.com', false, true, false, '93.184.216.34', null],
  ['api.example.com', false, true, false, '127.0.0.1', /api\.example\.com resolves to 127\.0\.0\.1, which is a loopback address; a DNS name may reach private networks only with allow_private_networks = true/],
  ['api.example.com', false, true, false, '10.1.2.3', /which is a private address/],
  ['api.example.com', false, true, false, '172.20.0.5', /which is a private address/],
  ['api.example.com', false, true, false, '192.168.1.9', /which is a private address/],
  ['api.example.com', false, true, false, '169.254.10.10', /which is a link-local address/],
  ['api.example.com', false, true, false, 'fe80::1', /which is a link-local address/],
  ['api.example.com', false, true, false, 'fd00::5', /which is a unique-local address/],
  ['api.example.com', false, true, false, '::ffff:0:127.0.0.1', /loopback address/],
  ['api.example.com', false, true, false, '64:ff9b:1::a00:1', /private address/],
  ['api.example.com', false, true, true, '127.0.0.1', null],
  ['api.example.com', false, true, true, '10.1.2.3', null],
  ['api.example.com', false, true, true, '169.254.10.10', null],
  ['api.example.com', false, true, true, 'fd00::5', null],
  ['svc.example.com', false, false, true, '10.1.2.3', null], // matched by a wildcard entry: the opt-in covers it
  // Never through a name, opt-in or not: metadata, unspecified, multicast, reserved.
  ['api.example.com', false, true, true, '169.254.169.254', /metadata address; a DNS name never reaches it/],
  ['api.example.com', false, true, true, '::ffff:169.254.169.254', /metadata address/],
  ['api.example.com', false, true, true, '0.0.0.0', /unspecified address/],
  ['api.example.com', false, true, true, '224.0.0.1', /multicast address/],
  ['api.example.com', false, true, true, '240.0.0.1', /reserved address/],
  // IP literals: allowed when an entry names the IP itself; a wildcard (or the opt-in) never does.
  ['127.0.0.1', true, true, false, '127.0.0.1', null],
  ['::1', true, true, false, '::1', null],
  ['10.0.0.5', true, true, false, '10.0.0.5', null],
  ['169.254.169.254', true, true, false, '169.254.169.254', null],
  ['127.0.0.1', true, false, false, '127.0.0.1', /127\.0\.0\.1 is a loopback address; plugins may reach it only when an allowed_urls entry names the host literally/],
  ['127.0.0.1', true, false, true, '127.0.0.1', /names the host literally/],
  // localhost named literally reaches loopback without the opt-in; nothing else.
  ['localhost', false, true, false, '127.0.0.1', null],
  ['localhost', false, true, false, '::1', null],
  ['localhost', false, false, false, '127.0.0.1', /localhost resolves to 127\.0\.0\.1, which is a loopback address/],
  ['localhost', false, true, false, '10.0.0.1', /private address/],
];

test('address policy: which resolved addresses a fetch may reach', () => {
  for (const [host, isIp, namedLiterally, allowPrivateNetworks, address, want] of POLICY_CASES) {
    const got = refusalFor({ host, isIp, namedLiterally, allowPrivateNetworks }, address);
    const label = `${host} → ${address} (literal ${namedLiterally}, opt-in ${allowPrivateNetworks})`;
    if (want === null) assert.equal(got, null, label);
    else assert.match(got ?? 'allowed', want, label);
  }
});

function handler(perms, lookup) {
  const refused = [];
  const h = createFetchHandler({ name: 'p', permissions: permissions(perms) }, { onRefused: (_p, url, reason) => refused.push(reason), lookup });
  return { fetch: async (url) => JSON.parse(await h(JSON.stringify({ url }))), refused, close: () => h.close() };
}

test('a literally named DNS name that resolves to loopback is refused; allow_private_networks lets it through', async () => {
  const lookup = async (host) => (host === 'api.example.test' ? ['127.0.0.1'] : []);
  const url = () => `http://api.example.test:${PORT}/x`;
  const off = handler({ allowed_urls: [`http://api.example.test:${PORT}/*`] }, lookup);
  const before = hits;
  const r = await off.fetch(url());
  assert.equal(r.status, 0);
  assert.match(r.error, /api\.example\.test resolves to 127\.0\.0\.1, which is a loopback address; a DNS name may reach private networks only with allow_private_networks = true/);
  assert.equal(off.refused.length, 1);
  assert.equal(hits, before, 'nothing reached the local service');
  await off.close();
  const on = handler({ allowed_urls: [`http://api.example.test:${PORT}/*`], allow_private_networks: true }, lookup);
  const ok = await on.fetch(url());
  assert.equal(ok.status, 200);
  assert.equal(ok.body, `local service saw api.example.test:${PORT}`);
  await on.close();
});

test('localhost, 127.0.0.1 and other IP literals named in allowed_urls stay reachable without the opt-in', async () => {
  const h = handler({ allowed_urls: [`http://localhost:${PORT}/*`, `http://127.0.0.1:${PORT}/*`] });
  for (const host of ['localhost', '127.0.0.1']) {
    const r = await h.fetch(`http://${host}:${PORT}/`);
    assert.equal(r.status, 200, `${host}: ${r.error}`);
  }
  assert.equal(h.refused.length, 0);
  await h.close();
  // A wildcard does not name localhost.
  const w = handler({ allowed_urls: [`http://*:${PORT}/*`] });
  assert.match((await w.fetch(`http://localhost:${PORT}/`)).error, /localhost resolves to 127\.0\.0\.1, which is a loopback address/);
  await w.close();
});

test('DNS rebinding: an answer that flips between public and loopback never reaches loopback', async () => {
  let n = 0;
  // Loopback, then loopback beside a public address, alternating. The public address may not be
  // reachable from here (a network error or the 300 ms timeout): what matters is that loopback never is.
  const lookup = async () => (n++ % 2 === 0 ? ['127.0.0.1'] : ['127.0.0.1', '93.184.216.34']);
  const h = handler({ allowed_urls: [`http://flip.example.test:${PORT}/*`], fetch_timeout_ms: 300 }, lookup);
  const before = hits;
  let refusedCount = 0;
  for (let i = 0; i < 12; i++) {
    const r = await h.fetch(`http://flip.example.test:${PORT}/`);
    if (/loopback address/.test(r.error ?? '')) refusedCount++;
    assert.notEqual(r.status, 200);
  }
  assert.equal(hits, before, 'no fetch reached the loopback service');
  assert.equal(refusedCount, 6);
  await h.close();
});

test('end to end (bext plugin run, real DNS queries): a name answering 127.0.0.1 is refused, allowed with the opt-in', async () => {
  const dns = await startDns({ answers: { 'api.example.test': ['127.0.0.1'] } });
  try {
    const req = [{ url: `http://api.example.test:${PORT}/from-plugin` }];
    const allowed = `allowed_urls = ["http://api.example.test:${PORT}/*"]`;
    const env = { BEXT_DNS_SERVERS: dns.server };
    const before = hits;
    const off = await runFetcher(fetcherProject(req, [allowed]), env);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(off.responses[0].status, 0);
    assert.match(off.responses[0].error, /resolves to 127\.0\.0\.1, which is a loopback address; a DNS name may reach private networks only with allow_private_networks = true/);
    assert.equal(hits, before);
    assert.ok(dns.queries.includes('api.example.test'), 'the name went through DNS');
    const on = await runFetcher(fetcherProject(req, [allowed, 'allow_private_networks = true']), env);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(on.responses[0].status, 200, JSON.stringify(on.responses[0]));
    assert.equal(on.responses[0].body, `local service saw api.example.test:${PORT}`);
  } finally {
    await dns.close();
  }
});
