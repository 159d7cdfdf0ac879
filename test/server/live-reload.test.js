// Browser live reload over real HTTP (`bext dev` as a subprocess): whole HTML documents under the
// root get the client tag with a matching length and their own ETag; other files, fragments,
// `server.live_reload = false` and `--no-watch` are served as they are; the event stream sends one
// event for a burst of writes, after the cache has dropped the old page, and is an admin route
// (Host / Origin rules, never cached).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { makeProject, rawRequest, startDev, writeConfig } from './dev.js';

const TAG = '<script src="/__bext/live-reload.js" defer></script>';
const PAGE = '<!doctype html>\n<html><head><link rel="stylesheet" href="/style.css"></head>\n<body><h1>v1</h1></body></html>\n';
const FILES = {
  'index.html': PAGE,
  // Valid HTML with the closing tags left out: the tag goes at the end.
  'open.html': '<!DOCTYPE html><title>open</title><p>no closing body',
  'fragment.html': '<li>a partial that a page fetches</li>',
  'style.css': 'h1 { color: rgb(1, 2, 3); }\n',
  'notes.txt': 'plain text </body>',
};
/** Quiet time that follows the one expected event before "no second event" is concluded. */
const QUIET_MS = 800;

/** The plain file's ETag as static.ts computes it (size and mtime). */
function plainEtag(file) {
  const st = statSync(file);
  return `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

/** Opens the event stream; `events` fills as frames arrive. */
function openStream(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url + '__bext/live-reload', (res) => {
      const s = { res, status: res.statusCode, headers: res.headers, events: [], close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (frame.includes('data: ')) s.events.push({ ...ev, data: JSON.parse(ev.data) });
        }
      });
      res.on('error', () => {});
      resolve(s);
    });
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('live reload on (the default)', () => {
  let dir;
  let dev;
  const pub = (f) => path.join(dir, 'public', f);

  before(async () => {
    dir = makeProject(FILES);
    // A drain bound longer than stop()'s 15 s SIGKILL fallback: a stream left open would show as a kill.
    writeConfig(dir, '[server]\nroot = "./public"\nshutdown_drain_ms = 60000\n');
    dev = await startDev(dir);
  });
  after(async () => {
    // Stopped by the last test; this is for a failure before it.
    await dev?.stop();
  });

  test('a document gets the tag before </body>, with its length and its own ETag', async () => {
    for (const round of ['MISS', 'HIT']) {
      const r = await fetch(dev.url);
      const body = await r.text();
      assert.equal(r.headers.get('x-bext-cache'), round);
      assert.equal(body, PAGE.replace('</body>', `${TAG}</body>`));
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(body));
      const plain = plainEtag(pub('index.html'));
      assert.match(r.headers.get('etag'), /^W\/"[0-9a-f]+-[0-9a-f]+-lr-[0-9a-f]{8}"$/);
      assert.ok(r.headers.get('etag').startsWith(plain.slice(0, -1) + '-'), `${r.headers.get('etag')} extends ${plain}`);
      // Validated by ETag only: a date would match a plain copy of the same file.
      assert.equal(r.headers.get('last-modified'), null);
    }
    const head = await fetch(dev.url, { method: 'HEAD' });
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(PAGE) + TAG.length);
    const open = await (await fetch(dev.url + 'open.html')).text();
    assert.equal(open, FILES['open.html'] + TAG);
    // A 404 page too: creating the file shows it.
    const missing = await fetch(dev.url + 'not-yet.html');
    const text = await missing.text();
    assert.equal(missing.status, 404);
    assert.match(text, new RegExp(`${TAG}</body>`));
    assert.equal(Number(missing.headers.get('content-length')), Buffer.byteLength(text));
  });

  test('a browser holding the plain copy gets the injected one, never a 304', async () => {
    const plain = plainEtag(pub('index.html'));
    const later = new Date(Date.now() + 60_000).toUTCString();
    // From the root (a request that skips the cache), then from the response cache.
    for (const [round, skip] of [['BYPASS', { 'cache-control': 'no-cache' }], ['HIT', {}]]) {
      // Raw requests: fetch() adds Cache-Control: no-cache to conditional requests.
      const r = await rawRequest(dev.url, '/', { headers: { 'if-none-match': plain, 'if-modified-since': later, ...skip } });
      assert.equal(r.status, 200, round);
      assert.equal(r.headers['x-bext-cache'], round);
      assert.match(r.body, /live-reload\.js/);
      const same = await rawRequest(dev.url, '/', { headers: { 'if-none-match': r.headers.etag, ...skip } });
      assert.equal(same.status, 304, round);
    }
  });

  test('other files and fragments are served as they are', async () => {
    for (const f of ['style.css', 'notes.txt', 'fragment.html']) {
      const r = await fetch(dev.url + f);
      const body = await r.text();
      assert.equal(body, FILES[f], f);
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(FILES[f]), f);
      assert.equal(r.headers.get('etag'), plainEtag(pub(f)), f);
      assert.ok(r.headers.get('last-modified'), f);
    }
  });

  test('the client script and the stream are bext routes, never cached', async () => {
    const js = await fetch(dev.url + '__bext/live-reload.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    assert.match(await js.text(), /const STREAM = "\/__bext\/live-reload";/);
    const s = await openStream(dev.url);
    try {
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      assert.equal(s.headers['cache-control'], 'no-store');
      assert.equal(s.headers['x-bext-cache'], 'BYPASS');
    } finally {
      s.close();
    }
  });

  test('the stream refuses a foreign Host (DNS rebinding) and a foreign Origin', async () => {
    const rebound = await rawRequest(dev.url, '/__bext/live-reload', { host: 'evil.example' });
    assert.equal(rebound.status, 403);
    const foreign = await rawRequest(dev.url, '/__bext/live-reload', { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    const script = await rawRequest(dev.url, '/__bext/live-reload.js', { host: 'evil.example' });
    assert.equal(script.status, 403);
  });

  test('a burst of writes is one change event, sent after the cache dropped the old page', async (t) => {
    assert.match(await (await fetch(dev.url)).text(), /<h1>v1<\/h1>/);
    const s = await openStream(dev.url);
    try {
      await dev.waitFor(() => s.events.some((e) => e.event === 'hello'), 20_000, 'the hello event');
      // An editor's save: several writes in a row.
      const t0 = performance.now();
      for (let i = 2; i <= 6; i++) writeFileSync(pub('index.html'), PAGE.replace('v1', `v${i}`));
      const burstMs = performance.now() - t0;
      await dev.waitFor(() => s.events.some((e) => e.event === 'change'), 20_000, 'a change event');
      // Fetched at once, as a reloading page does: the new version, not the cached old one.
      assert.match(await (await fetch(dev.url)).text(), /<h1>v6<\/h1>/);
      await sleep(QUIET_MS);
      const changes = s.events.filter((e) => e.event === 'change').map((e) => e.data);
      // bext takes a write as done after a short quiet spell (60 ms of stable size, then 120 ms of
      // debounce): a burst that took this process longer than 50 ms to write (descheduled mid-way
      // on a busy machine) may fairly be two saves.
      if (burstMs < 50) assert.deepEqual(changes, [{ kind: 'page' }]);
      else t.diagnostic(`the writes took ${burstMs.toFixed(0)} ms: ${changes.length} change event(s)`);
      assert.ok(changes.length >= 1 && changes.length <= 5 && changes.every((c) => c.kind === 'page'), JSON.stringify(changes));

      // Only a stylesheet changed: pages may swap it without reloading.
      writeFileSync(pub('style.css'), 'h1 { color: rgb(4, 5, 6); }\n');
      await dev.waitFor(() => s.events.filter((e) => e.event === 'change').length === changes.length + 1, 20_000, 'a second change event');
      assert.deepEqual(s.events.filter((e) => e.event === 'change').at(-1).data, { kind: 'css' });
    } finally {
      s.close();
    }
  });

  test('shutdown ends open streams and does not wait for them', async () => {
    const s = await openStream(dev.url);
    const ended = new Promise((resolve) => s.res.on('end', resolve));
    const t0 = Date.now();
    const r = await dev.stop();
    assert.deepEqual(r, { code: 0, signal: null });
    await ended;
    console.log(`# stopped with an open stream in ${Date.now() - t0} ms`);
  });
});

describe('live reload off', () => {
  const servers = [];
  after(async () => {
    for (const dev of servers) assert.equal((await dev.stop()).code, 0);
  });

  for (const [what, toml, args] of [
    ['server.live_reload = false', '[server]\nroot = "./public"\nlive_reload = false\n', []],
    ['--no-watch', '[server]\nroot = "./public"\n', ['--no-watch']],
  ]) {
    test(`${what}: pages are served as they are and the routes answer 404`, async () => {
      const dir = makeProject(FILES);
      writeConfig(dir, toml);
      const dev = await startDev(dir, { args });
      servers.push(dev);
      const r = await fetch(dev.url);
      assert.equal(await r.text(), PAGE);
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(PAGE));
      assert.equal(r.headers.get('etag'), plainEtag(path.join(dir, 'public', 'index.html')));
      for (const route of ['__bext/live-reload', '__bext/live-reload.js']) {
        const off = await fetch(dev.url + route);
        assert.equal(off.status, 404, route);
        assert.match((await off.json()).error, /live reload is off/);
      }
      assert.doesNotMatch(dev.stdout(), /live-reload/);
    });
  }

  test('switched off in the running config: the cached injected page is dropped, pages come plain', async () => {
    const dir = makeProject(FILES);
    writeConfig(dir, '[server]\nroot = "./public"\n');
    const dev = await startDev(dir);
    servers.push(dev);
    await fetch(dev.url);
    const cached = await fetch(dev.url);
    assert.equal(cached.headers.get('x-bext-cache'), 'HIT');
    assert.match(await cached.text(), /live-reload\.js/);
    writeConfig(dir, '[server]\nroot = "./public"\nlive_reload = false\n');
    await dev.waitFor(async () => (await fetch(dev.url + '__bext/live-reload.js')).status === 404, 20_000, 'the config change');
    // From the moment the setting applies, every answer is the plain page, and it is cached again.
    await dev.waitFor(async () => {
      const r = await fetch(dev.url);
      assert.equal(await r.text(), PAGE);
      return r.headers.get('x-bext-cache') === 'HIT';
    }, 20_000, 'the plain page from the cache');
  });

  test('server.live_reload must be a boolean', () => {
    const dir = makeProject({});
    writeConfig(dir, '[server]\nlive_reload = "yes"\n');
    const r = bext(['config', 'check', '-c', path.join(dir, 'bext.config.toml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bext\.config\.toml:2:\d+ +server\.live_reload: wrong type \(string "yes"\), expected true or false/);
  });
});
