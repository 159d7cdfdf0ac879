// A fetch failure is an error for the guest, never a host crash: responses over max_response_bytes
// (declared or streamed, just over or far over, small and large caps), bodies cut off mid-way and
// servers that reset the connection, through the real `bext plugin run` and `bext dev`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fetcherProject, runFetcher } from './fetch-guest.js';
import { startDev } from '../server/dev.js';

let server;
let base;

before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const n = Number(url.searchParams.get('n') ?? 0);
    res.on('error', () => {});
    req.socket.on('error', () => {});
    if (url.pathname === '/cl') {
      // The whole body in one write: it arrives together with the headers.
      res.setHeader('content-length', n);
      return res.end(Buffer.alloc(n, 0x61));
    }
    if (url.pathname === '/chunked') {
      let left = n;
      const push = () => {
        while (left > 0) {
          const k = Math.min(left, 64 * 1024);
          left -= k;
          if (!res.write(Buffer.alloc(k, 0x62))) return res.once('drain', push);
        }
        res.end();
      };
      return push();
    }
    if (url.pathname === '/lie') {
      // Declares more than the cap, sends a few bytes, then hangs up.
      res.setHeader('content-length', n);
      res.write('short');
      return setTimeout(() => req.socket.destroy(), 20);
    }
    if (url.pathname === '/reset') {
      res.write('partial'); // chunked, cut off before the last chunk
      return setTimeout(() => req.socket.destroy(), 20);
    }
    res.end('ok');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const SMALL = 100;
const LARGE = 5 * 1024 * 1024;

function oversized(cap) {
  return [
    `${base}/cl?n=${cap + 1}`,
    `${base}/cl?n=${cap * 4 + 17}`,
    `${base}/chunked?n=${cap + 1}`,
    `${base}/chunked?n=${cap * 4 + 17}`,
    `${base}/lie?n=${cap * 10}`,
  ];
}

for (const cap of [SMALL, LARGE]) {
  test(`bext plugin run: responses over a ${cap}-byte cap are errors for the guest, and the run completes`, async () => {
    const urls = [...oversized(cap), `${base}/reset`, `${base}/cl?n=${Math.min(cap, 1000)}`];
    const dir = fetcherProject(
      urls.map((url) => ({ url })),
      [`allowed_urls = ["${base}/*"]`, `max_response_bytes = ${cap}`, 'max_fetch_per_minute = 100'],
    );
    const r = await runFetcher(dir);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.result.outcome, 'ok');
    assert.equal(r.responses.length, urls.length);
    for (let i = 0; i < 5; i++) {
      assert.equal(r.responses[i].status, 0, urls[i]);
      assert.match(r.responses[i].error, new RegExp(`max_response_bytes \\(${cap} bytes\\)`), urls[i]);
    }
    assert.equal(r.responses[5].status, 0);
    assert.ok(r.responses[5].error && !/max_response_bytes/.test(r.responses[5].error), r.responses[5].error);
    assert.equal(r.responses[6].status, 200);
    assert.equal(r.responses[6].body.length, Math.min(cap, 1000));
  });
}

test('bext dev: a plugin fetching oversized responses does not take the server down', async () => {
  const dir = fetcherProject(
    [...oversized(SMALL), `${base}/reset`].map((url) => ({ url })),
    [`allowed_urls = ["${base}/*"]`, `max_response_bytes = ${SMALL}`],
  );
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const res = await fetch(dev.url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hi');
    // Each of the five oversized fetches came back to the guest as an error; the host logs the
    // refusal once per cause and counts the rest (docs/permissions.md, "Log limits").
    const seen = () => dev.logs().filter((l) => l.source === 'guest' && /max_response_bytes/.test(l.msg));
    await dev.waitFor(() => seen().length >= 5 && dev.logs().some((l) => l.msg === 'http_fetch refused'), 30_000, 'the five errors and the refusal in the log');
    assert.equal(seen().length, 5, dev.stderr());
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});
