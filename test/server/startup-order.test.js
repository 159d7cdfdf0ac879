// `bext dev` answers the site while plugins are still starting; the events of those requests
// reach the plugin after its on_server_start, and the admin API answers only once start-up has
// finished. The plugin's on_server_start waits on an http_fetch to a server of the test's, so the
// test decides when start-up may finish (no timing involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bextSpawn, freePort } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { makeProject, writeConfig } from './helpers.js';

function gatedWat(request) {
  const esc = (s) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `(module
  (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (import "bext" "log" (func $log (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 16) "info")
  (data (i32.const 32) "started")
  (data (i32.const 64) "${esc(request)}")
  (func (export "bext_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "on_server_start") (param i32 i32)
    (drop (call $fetch (i32.const 64) (i32.const ${Buffer.byteLength(request)})))
    (call $log (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 7)))
  (func (export "on_request_complete") (param $p i32) (param $n i32)
    (call $log (i32.const 16) (i32.const 4) (local.get $p) (local.get $n))))`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('the site is answered while a plugin starts; its event arrives after on_server_start; the admin API waits', async (t) => {
  // The gate: holds the plugin's fetch (and so its on_server_start) until released.
  let release;
  const released = new Promise((r) => (release = r));
  let entered;
  const inStart = new Promise((r) => (entered = r));
  const gate = http.createServer((req, res) => {
    entered();
    released.then(() => res.end('ok'));
  });
  t.after(() => {
    release();
    gate.closeAllConnections();
    gate.close();
  });
  await new Promise((r) => gate.listen(0, '127.0.0.1', r));
  const gatePort = gate.address().port;

  const dir = makeProject({ 'index.html': 'hello' });
  const request = JSON.stringify({ url: `http://127.0.0.1:${gatePort}/wait`, method: 'GET' });
  writeFileSync(path.join(dir, 'plugins', 'gated.wasm'), wat(gatedWat(request)));
  const cfg = writeConfig(
    dir,
    '[server]\nroot = "./public"\n[plugins.gated]\npath = "./plugins/gated.wasm"\n' +
      `[plugins.gated.permissions]\nallowed_urls = ["http://127.0.0.1:${gatePort}/*"]\nfetch_timeout_ms = 120000\n` +
      '[plugins.gated.limits]\ntimeout_ms = 180000\n',
  );
  const port = await freePort();
  const child = bextSpawn(['dev', '-c', cfg, '-p', String(port), '--no-watch'], {
    cwd: dir,
    env: { BEXT_PLUGIN_LOG: 'info', BEXT_LOG_FORMAT: 'json' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  const guest = () =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.source === 'guest')
      .map((l) => l.msg);

  await inStart;
  // on_server_start is running (and cannot finish): the site answers all the same.
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.equal(await page.text(), 'hello');
  assert.doesNotMatch(out, /Local:/, 'the banner comes once start-up has finished');

  let adminAnswered = false;
  const admin = fetch(`http://127.0.0.1:${port}/__bext/plugins`).then(async (r) => {
    adminAnswered = true;
    return { status: r.status, body: await r.json() };
  });
  // Give an early answer every chance to show up (it must not).
  await sleep(300);
  assert.equal(adminAnswered, false, 'the admin API waits for start-up');
  assert.deepEqual(guest(), [], 'nothing reached the plugin before its on_server_start finished');

  release();
  const plugins = await admin;
  assert.equal(plugins.status, 200);
  const list = Array.isArray(plugins.body) ? plugins.body : plugins.body.plugins;
  assert.equal(list.find((p) => p.name === 'gated').state, 'loaded');

  const deadline = Date.now() + 30_000;
  while (guest().length < 2 && Date.now() < deadline) await sleep(25);
  const said = guest();
  assert.equal(said[0], 'started');
  assert.equal(said.length, 2, said.join('\n'));
  assert.equal(JSON.parse(said[1]).path, '/');
  while (!/Local:/.test(out) && Date.now() < deadline) await sleep(25);
  assert.match(out, /✓ gated/);

  child.kill('SIGTERM');
  assert.equal(await closed, 0, err);
});
