// A plugin's http_fetch goes through the dev server to the host fetch handler on the main thread:
// allowed URLs are fetched, refused ones are counted in the plugin's stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { makeProject, writeConfig, startDev } from './helpers.js';

function fetcherWat(allowedReq, refusedReq) {
  const esc = (s) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `(module
  (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 16) "${esc(allowedReq)}")
  (data (i32.const 2048) "${esc(refusedReq)}")
  (func (export "bext_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "on_server_start") (param i32 i32)
    (drop (call $fetch (i32.const 16) (i32.const ${Buffer.byteLength(allowedReq)})))
    (drop (call $fetch (i32.const 2048) (i32.const ${Buffer.byteLength(refusedReq)})))))`;
}

test('http_fetch from a plugin: allowed URLs reach the network, refused ones are counted', async (t) => {
  const hits = [];
  const target = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  // Closed whatever happens below (a failed set-up must not leave the file running forever).
  t.after(() => target.close());
  await new Promise((r) => target.listen(0, '127.0.0.1', r));
  const port = target.address().port;
  const dir = makeProject({ 'index.html': 'hi' });
  const allowed = JSON.stringify({ url: `http://127.0.0.1:${port}/hit?from=plugin`, method: 'GET' });
  const refused = JSON.stringify({ url: 'https://not-allowed.example/x', method: 'GET' });
  writeFileSync(path.join(dir, 'plugins', 'fetcher.wasm'), wat(fetcherWat(allowed, refused)));
  writeConfig(
    dir,
    '[server]\nroot = "./public"\n[plugins.fetcher]\npath = "./plugins/fetcher.wasm"\n' +
      `[plugins.fetcher.permissions]\nallowed_urls = ["http://127.0.0.1:${port}/*"]\n`,
  );
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    assert.deepEqual(hits, ['GET /hit?from=plugin']);
    assert.match(dev.stdout(), /✓ fetcher/);
    const stats = await (await fetch(dev.url + '__bext/stats/fetcher')).json();
    const p = stats.plugins.fetcher;
    assert.equal(p.fetchRefused.count, 1);
    assert.equal(p.fetchRefused.top[0].url, 'https://not-allowed.example/x');
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});
