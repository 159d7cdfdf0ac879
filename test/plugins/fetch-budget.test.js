// max_fetch_per_minute survives reloads: restarting a plugin (POST /__bext/reload, a new .wasm, a
// second engine.start) hands it the bucket it had, never a full one. Counted at a loopback server
// that records every request the plugin's http_fetch makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPluginEngine } from '../../dist/plugins/index.js';
import { wat } from '../helpers/wasm.js';
import { pluginFor } from '../runtime/helpers.js';
import { makeProject, writeConfig, startDev, sleep } from '../server/helpers.js';

const PER_HOOK = 3;

/** on_server_start and on_reload each call http_fetch PER_HOOK times; `tag` changes the bytes only. */
function fetcherWat(requestJson, tag = 0) {
  const esc = requestJson.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const len = Buffer.byteLength(requestJson);
  return `(module
  (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (global $tag i32 (i32.const ${tag}))
  (data (i32.const 16) "${esc}")
  (func (export "bext_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func $burst
    (local $i i32)
    (loop $again
      (drop (call $fetch (i32.const 16) (i32.const ${len})))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const ${PER_HOOK})))))
  (func (export "on_server_start") (param i32 i32) (call $burst))
  (func (export "on_reload") (call $burst)))`;
}

async function countingServer() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    res.end('ok');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { hits, port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

test('bext dev: reloads (admin API and a new .wasm) never refill the fetch bucket', async () => {
  const target = await countingServer();
  const dir = makeProject({ 'index.html': 'hi' });
  const request = JSON.stringify({ url: `http://127.0.0.1:${target.port}/hit`, method: 'GET' });
  const wasm = path.join(dir, 'plugins', 'fetcher.wasm');
  writeFileSync(wasm, wat(fetcherWat(request)));
  const limit = 4;
  writeConfig(
    dir,
    '[server]\nroot = "./public"\n[plugins.fetcher]\npath = "./plugins/fetcher.wasm"\n' +
      `[plugins.fetcher.permissions]\nallowed_urls = ["http://127.0.0.1:${target.port}/*"]\nmax_fetch_per_minute = ${limit}\n`,
  );
  // The bucket starts full when the plugin first starts, after this.
  const t0 = Date.now();
  const dev = await startDev(dir);
  try {
    assert.equal(target.hits.length, PER_HOOK, 'on_server_start fetched');
    for (let i = 0; i < 3; i++) {
      const r = await fetch(dev.url + '__bext/reload', { method: 'POST', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200);
      assert.deepEqual((await r.json()).reloaded, ['fetcher']);
    }
    // A hot reload of the .wasm (new bytes) starts the plugin again too.
    const starts = () => dev.logs().filter((l) => /plugin fetcher reloaded/.test(l.msg ?? '')).length;
    // The three reloads above log it too, on stderr, which can trail their HTTP answers.
    await dev.waitFor(() => starts() >= 3, 30_000, 'the three reloads in the log');
    const before = starts();
    writeFileSync(wasm, wat(fetcherWat(request, 1)));
    await dev.waitFor(() => starts() > before, 30_000, 'the .wasm hot reload');
    await sleep(200);
    // One token comes back every 15 s at 4/min: a few seconds here, longer on a busy machine.
    const refills = Math.floor((Date.now() - t0) / 15_000);
    assert.ok(target.hits.length <= limit + Math.max(1, refills), `${target.hits.length} fetches reached the server in ${Date.now() - t0} ms (limit ${limit}/min)`);
    assert.ok(target.hits.length >= limit, `${target.hits.length} fetches reached the server`);
    const refused = (await (await fetch(dev.url + '__bext/stats/fetcher')).json()).plugins.fetcher.fetchRefused;
    assert.ok(refused.count >= 4 * PER_HOOK - (limit + 1), JSON.stringify(refused));
  } finally {
    assert.equal((await dev.stop()).code, 0);
    await target.close();
  }
});

test('engine: every start of the same plugin shares one bucket; a changed rate starts a new one', async () => {
  const target = await countingServer();
  const request = JSON.stringify({ url: `http://127.0.0.1:${target.port}/e`, method: 'GET' });
  const permissions = { allowed_urls: [`http://127.0.0.1:${target.port}/*`], max_fetch_per_minute: 5 };
  const plugin = pluginFor(fetcherWat(request), { name: 'budget', permissions });
  const { stateDir, ...cfg } = plugin;
  const engine = createPluginEngine({ stateDir });
  try {
    for (let i = 0; i < 4; i++) {
      const h = await engine.start(cfg);
      await h.call({ hook: 'on_reload' });
      await h.close();
    }
    assert.equal(target.hits.length, 5, 'four starts of 3 fetches at 5/min');
    const changed = { ...cfg, permissions: { ...cfg.permissions, max_fetch_per_minute: 2 } };
    const h = await engine.start(changed);
    await h.call({ hook: 'on_reload' });
    await h.close();
    assert.equal(target.hits.length, 7, 'a new bucket at the new rate of 2/min');
  } finally {
    await target.close();
  }
});
