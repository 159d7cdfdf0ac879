// http_fetch keeps DNS answers for their TTL (at most a minute) and the hosts file until it
// changes: a plugin fetching one API on every request event asks DNS once per TTL, not twice
// per fetch. Every fetch still checks the addresses it gets, cached or not.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFetchHandler } from '../../dist/host/fetch/index.js';
import { forgetAnswers, fromHostsFile, systemLookup } from '../../dist/host/fetch/resolve.js';
import { permissions } from './harness.js';
import { startDns } from './dns-server.js';

process.env.BEXT_LOG ??= 'silent';

// Two services on two loopback addresses, so a test can see which address a fetch reached.
const services = [];
let PORT;

before(async () => {
  const first = http.createServer((_req, res) => res.end('one'));
  await new Promise((r) => first.listen(0, '127.0.0.1', r));
  PORT = first.address().port;
  const second = http.createServer((_req, res) => res.end('two'));
  await new Promise((r) => second.listen(PORT, '127.0.0.2', r));
  services.push(first, second);
});
after(() => {
  for (const s of services) {
    s.closeAllConnections();
    s.close();
  }
});
beforeEach(() => forgetAnswers());

function handlerFor(over = {}) {
  return createFetchHandler({
    name: 'dns-cache',
    permissions: permissions({ allowed_urls: [`http://*.example.test:${PORT}/*`], max_fetch_per_minute: 1000, allow_private_networks: true, ...over }),
  });
}

async function fetchBody(handler, host) {
  const r = JSON.parse(await handler(JSON.stringify({ url: `http://${host}:${PORT}/` })));
  return r.status === 200 ? r.body : r.error;
}

async function withDns(options, fn) {
  const dns = await startDns(options);
  process.env.BEXT_DNS_SERVERS = dns.server;
  const handler = handlerFor(options.permissions);
  try {
    await fn(handler, dns);
  } finally {
    delete process.env.BEXT_DNS_SERVERS;
    await handler.close();
    await dns.close();
  }
}

const asked = (dns, name) => dns.queries.filter((q) => q === name).length;

test('an answer with a TTL is reused until it expires: five fetches, one A and one AAAA query', async () => {
  await withDns({ answers: { 'api.example.test': ['127.0.0.1'] }, ttl: 30 }, async (handler, dns) => {
    for (let i = 0; i < 5; i++) assert.equal(await fetchBody(handler, 'api.example.test'), 'one');
    assert.equal(asked(dns, 'api.example.test'), 2);
  });
});

test('an answer with TTL 0 is not kept: every fetch asks again and follows a changed answer', async () => {
  // The answer flips on every query pair: A and AAAA are the 1st and 2nd, then the 3rd and 4th...
  const answers = (_name, n) => (n <= 2 ? ['127.0.0.1'] : ['127.0.0.2']);
  await withDns({ answers, ttl: 0 }, async (handler, dns) => {
    assert.equal(await fetchBody(handler, 'api.example.test'), 'one');
    assert.equal(await fetchBody(handler, 'api.example.test'), 'two');
    assert.equal(asked(dns, 'api.example.test'), 4);
  });
});

test('a changed answer is used once the old one expires, and not before', async () => {
  const answers = (_name, n) => (n <= 2 ? ['127.0.0.1'] : ['127.0.0.2']);
  await withDns({ answers, ttl: 1 }, async (handler, dns) => {
    assert.equal(await fetchBody(handler, 'api.example.test'), 'one');
    assert.equal(await fetchBody(handler, 'api.example.test'), 'one', 'within the TTL the kept answer is used');
    assert.equal(asked(dns, 'api.example.test'), 2);
    await sleep(1100);
    assert.equal(await fetchBody(handler, 'api.example.test'), 'two');
    assert.equal(asked(dns, 'api.example.test'), 4);
  });
});

test('a kept answer is checked again on every fetch: a name on loopback stays refused without allow_private_networks', async () => {
  await withDns({ answers: { 'api.example.test': ['127.0.0.1'] }, ttl: 30, permissions: { allow_private_networks: false } }, async (handler, dns) => {
    for (let i = 0; i < 3; i++) assert.match(await fetchBody(handler, 'api.example.test'), /resolves to 127\.0\.0\.1, which is a loopback address/);
    assert.equal(asked(dns, 'api.example.test'), 2, 'the refusal came from the kept answer');
  });
});

test('names are kept apart, and a name the server does not know is asked again each time', async () => {
  await withDns({ answers: { 'a.example.test': ['127.0.0.1'], 'b.example.test': ['127.0.0.2'] }, ttl: 30 }, async (handler, dns) => {
    assert.equal(await fetchBody(handler, 'a.example.test'), 'one');
    assert.equal(await fetchBody(handler, 'b.example.test'), 'two');
    assert.equal(await fetchBody(handler, 'a.example.test'), 'one');
    assert.equal(await fetchBody(handler, 'B.Example.Test'), 'two', 'case does not matter');
    assert.match(await fetchBody(handler, 'c.example.test'), /cannot resolve c\.example\.test: ENOTFOUND/);
    assert.match(await fetchBody(handler, 'c.example.test'), /cannot resolve c\.example\.test/);
    assert.deepEqual([asked(dns, 'a.example.test'), asked(dns, 'b.example.test'), asked(dns, 'c.example.test')], [2, 2, 4]);
  });
});

test('fetches of one name at the same moment share one query, also across plugins', async () => {
  // TTL 0: nothing is kept, so only sharing the query in flight saves the others theirs.
  await withDns({ answers: { 'api.example.test': ['127.0.0.1'] }, ttl: 0, delayMs: 200 }, async (handler, dns) => {
    const others = [handlerFor(), handlerFor()];
    try {
      const bodies = await Promise.all([handler, ...others].flatMap((h) => [fetchBody(h, 'api.example.test'), fetchBody(h, 'api.example.test')]));
      assert.deepEqual(bodies, Array(6).fill('one'));
      assert.equal(asked(dns, 'api.example.test'), 2, 'one A and one AAAA query for six fetches');
      assert.equal(await fetchBody(handler, 'api.example.test'), 'one');
      assert.equal(asked(dns, 'api.example.test'), 4, 'a fetch after the shared query ended asks again');
    } finally {
      await Promise.all(others.map((h) => h.close()));
    }
  });
});

/** A fetch deadline's signal, aborted by hand. */
function signal() {
  const s = new EventEmitter();
  s.aborted = false;
  s.abort = () => {
    s.aborted = true;
    s.emit('abort');
  };
  return s;
}

test('a caller that stops waiting leaves a shared query to the others; the last to leave cancels it', async () => {
  const dns = await startDns({ answers: { 'api.example.test': ['127.0.0.1'] }, ttl: 0, delayMs: 300 });
  process.env.BEXT_DNS_SERVERS = dns.server;
  try {
    const first = signal();
    const second = signal();
    const a = systemLookup('api.example.test', { signal: first, timeoutMs: 5_000 });
    const b = systemLookup('api.example.test', { signal: second, timeoutMs: 5_000 });
    await sleep(50);
    first.abort();
    await assert.rejects(a, /aborted/);
    assert.deepEqual(await b, ['127.0.0.1'], 'the one still waiting gets the answer');
    assert.equal(asked(dns, 'api.example.test'), 2);

    // Alone, a caller that stops waiting cancels the query: the next caller asks anew.
    const alone = signal();
    const c = systemLookup('api.example.test', { signal: alone, timeoutMs: 5_000 });
    await sleep(50);
    alone.abort();
    const next = systemLookup('api.example.test', { signal: signal(), timeoutMs: 5_000 });
    await assert.rejects(c, /aborted/);
    assert.deepEqual(await next, ['127.0.0.1']);
    assert.equal(asked(dns, 'api.example.test'), 6, 'the cancelled query was not joined');
  } finally {
    delete process.env.BEXT_DNS_SERVERS;
    await dns.close();
  }
});

test('a caller whose shared query timed out before its own deadline asks again', async () => {
  // Queries go unanswered until the first caller has given up.
  let answering = false;
  const dns = await startDns({ answers: { 'api.example.test': ['127.0.0.1'] }, ttl: 0, drop: () => !answering });
  process.env.BEXT_DNS_SERVERS = dns.server;
  try {
    // The first asks with a short deadline, so its query gives up; the second joins it.
    const hasty = systemLookup('api.example.test', { signal: signal(), timeoutMs: 100 });
    // Its query is on the wire before the second caller comes.
    while (asked(dns, 'api.example.test') === 0) await sleep(5);
    const patient = systemLookup('api.example.test', { signal: signal(), timeoutMs: 10_000 });
    await assert.rejects(hasty, (err) => err.code === 'ETIMEOUT');
    const unanswered = asked(dns, 'api.example.test');
    answering = true;
    assert.deepEqual(await patient, ['127.0.0.1']);
    assert.ok(asked(dns, 'api.example.test') > unanswered, 'the patient caller sent queries of its own');
  } finally {
    delete process.env.BEXT_DNS_SERVERS;
    await dns.close();
  }
});

test('the hosts file is read once and again after it changes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bext-hosts-'));
  const file = path.join(dir, 'hosts');
  try {
    fs.writeFileSync(file, '# test hosts\n10.0.0.7 svc.internal svc\n10.0.0.8 svc.internal\n');
    assert.deepEqual(await fromHostsFile('svc.internal', file), ['10.0.0.7', '10.0.0.8']);
    assert.deepEqual(await fromHostsFile('svc', file), ['10.0.0.7']);
    assert.deepEqual(await fromHostsFile('other', file), []);
    fs.writeFileSync(file, '10.0.0.9 svc.internal\n');
    // Within a second the file is not looked at again; after it, the change is seen.
    await sleep(1100);
    assert.deepEqual(await fromHostsFile('svc.internal', file), ['10.0.0.9']);
    assert.deepEqual(await fromHostsFile('svc', file), []);
    fs.rmSync(file);
    await sleep(1100);
    assert.deepEqual(await fromHostsFile('svc.internal', file), [], 'a removed hosts file lists nothing');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
