// The Rust SDK against the real host: a fixture plugin (test/fixtures/examples/rust-sdk-check)
// built from source calls every wrapper and checks each result in the guest; hooks return Err
// with the differences, so an `ok` outcome means the whole API behaved as the ABI says. Each
// test's first call goes through `bext plugin run`; the follow-up calls make the same call in
// this process (callHook in ./lib.js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { rustTarget, rustTools } from '../../plugins-example/build.js';
import { skipWithout } from '../helpers/toolchains.js';
import { bext, ROOT } from '../helpers/cli.js';
import { CARGO_TARGET_DIR, callHook, runHook, show, storageValue } from './lib.js';
import { tempDir } from '../helpers/cleanup.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'examples', 'rust-sdk-check');
const missing = skipWithout('rust');

let dir;
let config;
let echo;

before(async () => {
  if (missing) return;
  const { cargo, rustc } = rustTools();
  const build = spawnSync(cargo, ['build', '--target', rustTarget(), '--release', '--quiet'], {
    cwd: FIXTURE,
    env: { ...process.env, CARGO_TARGET_DIR, RUSTC: rustc },
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, `cargo build of the sdk-check fixture failed:\n${build.stderr}`);

  // Echoes the request: status 201, x-echo = the x-check header, body = the request body.
  echo = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'x-echo': String(req.headers['x-check'] ?? '-'), 'content-type': 'application/json' });
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  const port = echo.address().port;

  dir = tempDir('bext-rust-sdk-');
  mkdirSync(path.join(dir, 'public'));
  copyFileSync(path.join(CARGO_TARGET_DIR, rustTarget(), 'release', 'sdk_check.wasm'), path.join(dir, 'sdk-check.wasm'));
  config = path.join(dir, 'bext.config.toml');
  writeFileSync(config, `
[plugins.sdk-check]
path = "./sdk-check.wasm"

[plugins.sdk-check.config]
greeting = "héllo \\"wörld\\""
fetch_url = "http://127.0.0.1:${port}/echo"

[plugins.sdk-check.config.nested]
value = 42
list = ["a", "b"]

[plugins.sdk-check.permissions]
kv_namespaces = ["shared"]
queue_names = ["jobs"]
allowed_urls = ["http://127.0.0.1:${port}/*"]
`);
});

after(async () => {
  if (echo) await new Promise((r) => echo.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const opts = { skip: missing };

function logs(r) {
  return r.result.logs.map((l) => `${l.level} ${l.msg ?? l.message ?? ''}`).join('\n');
}

test('every wrapper (config, storage, kv, queues, fetch refusal, metrics, log) behaves as documented', opts, async () => {
  const r = await runHook(config, 'sdk-check', 'on_server_start', { greeting: 'héllo "wörld"' });
  assert.equal(r.result?.outcome, 'ok', show(r));
  assert.match(logs(r), /^info sdk-check start ok$/m);
  assert.deepEqual(r.result.metrics, [{ name: 'sdk_check_runs', value: 1, tags: { phase: 'start', quote: 'a"b' } }]);
});

test('hook arguments arrive intact and Ok results are ok outcomes', opts, async () => {
  assert.equal((await runHook(config, 'sdk-check', 'on_request_complete', { path: '/wörld?q="x"', status: 200 })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'sdk-check', 'last_path'), '/wörld?q="x"');
  assert.equal((await callHook(config, 'sdk-check', 'on_cache_write', { key: 'page:/blog/', tags: ['a', 'b c'] })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'sdk-check', 'cache:page:/blog/'), 'a,b c');
  assert.equal((await callHook(config, 'sdk-check', 'on_cache_invalidate', { pattern: 'page:/blog/*', count: 4 })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'sdk-check', 'invalidated'), 'page:/blog/*=4');
  for (const hook of ['on_reload', 'on_server_stop']) {
    const r = await callHook(config, 'sdk-check', hook);
    assert.equal(r.result?.outcome, 'ok', show(r));
  }
  assert.equal(await storageValue(config, 'sdk-check', 'reloaded'), 'yes');
  assert.equal(await storageValue(config, 'sdk-check', 'stopped'), 'yes');
});

test('http_fetch sends method, headers and JSON body and returns status, headers and body', opts, async () => {
  const r = await runHook(config, 'sdk-check', 'on_request_complete', { path: '/fetch' });
  assert.equal(r.result?.outcome, 'ok', show(r));
  assert.equal(await storageValue(config, 'sdk-check', 'fetched'), '201 1 {"hello":"wörld"}');
});

test('Err("...") from a hook is an error outcome with exactly that message', opts, async () => {
  const fail = await runHook(config, 'sdk-check', 'on_request_complete', { path: '/fail' });
  assert.equal(fail.code, 1);
  assert.equal(fail.result.outcome, 'error');
  assert.equal(fail.result.message, 'sdk-check refused /fail');
  const empty = await callHook(config, 'sdk-check', 'on_request_complete', { path: '/empty-error' });
  assert.equal(empty.result.outcome, 'error');
  assert.equal(empty.result.message, 'error (empty message)');
  const cleanup = await callHook(config, 'sdk-check', 'cleanup');
  assert.equal(cleanup.result.message, 'cleanup always fails in sdk-check');
});

test('a panic traps the call and its message and location reach the logs', opts, async () => {
  const r = await runHook(config, 'sdk-check', 'on_request_complete', { path: '/panic' });
  assert.equal(r.result?.outcome, 'trap', show(r));
  assert.match(logs(r), /^error plugin panicked at 'sdk-check panicked on \/panic', src\/lib\.rs:\d+:\d+$/m);
});

test('export_plugin! exports name, priority, allocator, _initialize and all seven hooks', opts, () => {
  const r = bext(['plugin', 'inspect', path.join(dir, 'sdk-check.wasm'), '--json']);
  assert.equal(r.code, 0, show(r));
  const info = JSON.parse(r.stdout);
  assert.deepEqual(info.problems, []);
  assert.deepEqual(info.hooks.map((h) => h.hook).sort(), ['cleanup', 'on_cache_invalidate', 'on_cache_write', 'on_reload', 'on_request_complete', 'on_server_start', 'on_server_stop']);
  assert.ok(info.hooks.every((h) => h.returns === 'i64'));
  assert.equal(info.allocator, 'bext_alloc');
  assert.equal(info.deallocator, 'bext_dealloc');
  const exports = info.exports.map((e) => e.name);
  for (const name of ['_initialize', 'bext_name', 'bext_priority', 'memory']) assert.ok(exports.includes(name), `missing export ${name}`);
});
