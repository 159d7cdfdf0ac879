// A fetch whose DNS never answers ends at fetch_timeout_ms, and leaves nothing running: before,
// `bext plugin run` returned `timeout` to the guest but then waited out the system resolver's
// retries (10.6 s with a 2 s fetch timeout) before it could exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startDns } from './dns-server.js';
import { fetcherProject, runFetcher } from './fetch-guest.js';

test('bext plugin run: a DNS server that never answers costs the fetch timeout, and the process exits promptly', async () => {
  const dns = await startDns({ silent: true });
  const server = http.createServer((_req, res) => res.end('after'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    const dir = fetcherProject(
      [{ url: 'http://never.example.test/x' }, { url: `http://127.0.0.1:${port}/` }],
      [`allowed_urls = ["http://never.example.test/*", "http://127.0.0.1:${port}/*"]`, 'fetch_timeout_ms = 6000'],
    );
    const r = await runFetcher(dir, { BEXT_DNS_SERVERS: dns.server });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.responses[0], { status: 0, error: 'timeout after 6000 ms (fetch_timeout_ms)' });
    assert.ok(dns.queries.includes('never.example.test'), 'the lookup went to the silent server');
    // The next fetch is not held up behind the stuck lookup.
    assert.equal(r.responses[1].status, 200);
    assert.equal(r.responses[1].body, 'after');
    // From printing the result to exiting: a lookup left running would hold the process for its
    // remaining retries: with bext's own resolver settings (two tries of half the fetch timeout,
    // the second twice as long) that is 3 s here. An exit takes 2 s at most on an idle machine;
    // on a busy one, as much longer as the run took beyond its 6 s wait (start-up, fetches).
    const slowness = Math.max(0, r.ms - r.exitLagMs - 6000);
    assert.ok(r.exitLagMs < 2000 + slowness, `bext plugin run exited ${r.exitLagMs} ms after printing its result (${r.ms - r.exitLagMs} ms to print it)`);
  } finally {
    await dns.close();
    server.close();
  }
});
