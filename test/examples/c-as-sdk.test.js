// The C header and the AssemblyScript library against the real host: fixture plugins built from
// source (test/fixtures/examples/{c,as}-sdk-check) call every wrapper and check each result in the
// guest, so an `ok` outcome means the whole API behaved as documented. Each test's first call and
// the failures whose traps and logs it checks go through `bext plugin run`; the follow-up calls
// make the same call in this process (callHook in ./lib.js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { skipWithout } from '../helpers/toolchains.js';
import { bext, ROOT } from '../helpers/cli.js';
import { callHook, runHook, show, storageValue } from './lib.js';
import { tempDir } from '../helpers/cleanup.js';
import { compileAssemblyScript } from '../helpers/asc.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'examples');
const noC = skipWithout('c');
const noAs = skipWithout('assemblyscript');

let dir;
let config;
let echo;

function build(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
}

before(async () => {
  dir = tempDir('bext-c-as-sdk-');
  mkdirSync(path.join(dir, 'public'));
  if (!noC) {
    build('clang', ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-Wall', '-Wextra', '-Werror', '-Wl,--strip-debug',
      '-I', path.join(ROOT, 'sdk', 'c'), '-o', path.join(dir, 'c-sdk-check.wasm'), path.join(FIXTURES, 'c-sdk-check', 'check.c')]);
  }
  if (!noAs) {
    const r = compileAssemblyScript({
      cwd: path.join(FIXTURES, 'as-sdk-check'),
      args: ['assembly/index.ts', '--runtime', 'stub', '--exportStart', '_initialize', '--use', 'abort=../../../../sdk/assemblyscript/assembly/index/bext_abort', '-O3'],
      sources: [path.join(FIXTURES, 'as-sdk-check'), path.join(ROOT, 'sdk', 'assemblyscript')],
      out: path.join(dir, 'as-sdk-check.wasm'),
    });
    assert.equal(r.status, 0, `asc failed:\n${r.output}`);
  }
  echo = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(202, { 'x-echo': String(req.headers['x-check'] ?? '-') });
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  const port = echo.address().port;
  config = path.join(dir, 'bext.config.toml');
  const perms = `kv_namespaces = ["shared"]\nqueue_names = ["jobs"]\nallowed_urls = ["http://127.0.0.1:${port}/*"]`;
  writeFileSync(config, `
[plugins.c-sdk-check]
path = "./c-sdk-check.wasm"
enabled = ${!noC}
[plugins.c-sdk-check.config]
limit = 12
[plugins.c-sdk-check.config.nested]
name = "c"
[plugins.c-sdk-check.permissions]
${perms}

[plugins.as-sdk-check]
path = "./as-sdk-check.wasm"
enabled = ${!noAs}
[plugins.as-sdk-check.config]
greeting = "héllo \\"wörld\\""
limit = 12
fetch_url = "http://127.0.0.1:${port}/echo"
[plugins.as-sdk-check.config.nested]
name = "as"
[plugins.as-sdk-check.permissions]
${perms}
`);
});

after(async () => {
  if (echo) await new Promise((r) => echo.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function logs(r) {
  return r.result.logs.map((l) => `${l.level} ${l.msg ?? l.message ?? ''}`).join('\n');
}

const c = { skip: noC };
const as = { skip: noAs };

test('C: every wrapper in bext.h behaves as documented', c, async () => {
  const r = await runHook(config, 'c-sdk-check', 'on_server_start', { limit: 12 });
  assert.equal(r.result?.outcome, 'ok', show(r));
  assert.match(logs(r), /^info c-sdk-check start ok$/m);
  assert.deepEqual(r.result.metrics, [{ name: 'c_check_runs', value: 2.5, tags: { phase: 'start' } }]);
});

test('C: hook arguments arrive intact; bext_error / bext_errorf messages become error outcomes', c, async () => {
  const event = { path: '/wörld', status: 200 };
  assert.equal((await runHook(config, 'c-sdk-check', 'on_request_complete', event)).result.outcome, 'ok');
  assert.deepEqual(JSON.parse(await storageValue(config, 'c-sdk-check', 'last_event')), event);
  assert.equal((await callHook(config, 'c-sdk-check', 'on_cache_write', { key: 'page:/x', tags: ['t1', 't"2'] })).result.outcome, 'ok');
  assert.deepEqual(JSON.parse(await storageValue(config, 'c-sdk-check', 'cache:page:/x')), ['t1', 't"2']);
  assert.equal((await callHook(config, 'c-sdk-check', 'on_cache_invalidate', { pattern: 'page:/*', count: 9 })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'c-sdk-check', 'invalidated'), 'page:/*=9');
  for (const hook of ['on_reload', 'on_server_stop']) assert.equal((await callHook(config, 'c-sdk-check', hook)).result.outcome, 'ok');

  const fail = await runHook(config, 'c-sdk-check', 'on_request_complete', { path: '/fail' });
  assert.equal(fail.result.outcome, 'error');
  assert.equal(fail.result.message, 'c-sdk-check refused {"path":"/fail"}');
  assert.equal((await callHook(config, 'c-sdk-check', 'on_request_complete', { path: '/empty' })).result.message, 'error (empty message)');
  assert.equal((await callHook(config, 'c-sdk-check', 'cleanup')).result.message, 'cleanup fails with code 42');
});

test('C: BEXT_PLUGIN_NAME / BEXT_PLUGIN_PRIORITY and the allocator are exported', c, () => {
  const r = bext(['plugin', 'inspect', path.join(dir, 'c-sdk-check.wasm'), '--json']);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(info.problems, []);
  const names = info.exports.map((e) => e.name);
  for (const n of ['bext_name', 'bext_priority', 'bext_alloc', 'bext_dealloc', '_initialize']) assert.ok(names.includes(n), n);
  assert.equal(info.hooks.length, 7);
});

test('AssemblyScript: every wrapper behaves as documented', as, async () => {
  const r = await runHook(config, 'as-sdk-check', 'on_server_start', { greeting: 'héllo "wörld"' });
  assert.equal(r.result?.outcome, 'ok', show(r));
  assert.match(logs(r), /^info as-sdk-check start ok$/m);
  assert.deepEqual(r.result.metrics, [{ name: 'as_check_runs', value: 1.5, tags: { phase: 'start', q: 'a"b' } }]);
});

test('AssemblyScript: arguments, http_fetch, err() messages and abort() reach the host', as, async () => {
  assert.equal((await runHook(config, 'as-sdk-check', 'on_request_complete', { path: '/ünïcode' })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'as-sdk-check', 'last_path'), '/ünïcode');
  assert.equal((await callHook(config, 'as-sdk-check', 'on_cache_write', { key: 'page:/y', tags: ['a'] })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'as-sdk-check', 'cache:page:/y'), '["a"]');
  assert.equal((await callHook(config, 'as-sdk-check', 'on_cache_invalidate', { pattern: 'page:/y', count: 1 })).result.outcome, 'ok');
  assert.equal(await storageValue(config, 'as-sdk-check', 'invalidated'), 'page:/y=1');

  const fetched = await callHook(config, 'as-sdk-check', 'on_request_complete', { path: '/fetch' });
  assert.equal(fetched.result.outcome, 'ok', show(fetched));
  assert.equal(await storageValue(config, 'as-sdk-check', 'fetched'), '202 {"hello":"wörld"}');

  const fail = await callHook(config, 'as-sdk-check', 'on_request_complete', { path: '/fail' });
  assert.equal(fail.result.outcome, 'error');
  assert.equal(fail.result.message, 'as-sdk-check refused /fail');
  assert.equal((await callHook(config, 'as-sdk-check', 'cleanup')).result.message, 'as cleanup fails');

  const abort = await runHook(config, 'as-sdk-check', 'on_request_complete', { path: '/abort' });
  assert.equal(abort.result.outcome, 'trap');
  assert.match(logs(abort), /^error abort: as-sdk-check aborted on \/abort at assembly\/index\.ts:\d+:\d+$/m);
});

test('AssemblyScript: ok(true) resets the stub heap, so memory stays flat over many calls', as, async () => {
  const { loadPlugin, defaultPluginConfig } = await import(path.join(ROOT, 'dist', 'plugins', 'index.js'));
  const plugin = { ...defaultPluginConfig(path.join(dir, 'as-sdk-check.wasm')), name: 'as-sdk-check' };
  // 2 MiB of linear memory; each call below builds ~40 KB of strings, so 400 calls would need
  // ~16 MiB if nothing were reclaimed.
  plugin.limits = { ...plugin.limits, max_memory_mb: 2 };
  const host = await loadPlugin({ plugin, stateDir: path.join(dir, '.bext-mem') });
  try {
    const eventJson = JSON.stringify({ path: `/${'x'.repeat(8000)}`, status: 200 });
    for (let i = 0; i < 400; i++) {
      const r = await host.call({ hook: 'on_request_complete', eventJson });
      assert.equal(r.outcome, 'ok', `call ${i}: ${r.outcome} ${r.message ?? ''}`);
    }
    const mem = await host.workerStats();
    assert.ok(mem.wasmMemoryBytes <= 2 * 1024 * 1024, `memory grew to ${mem.wasmMemoryBytes} bytes`);
  } finally {
    await host.close();
  }
});
