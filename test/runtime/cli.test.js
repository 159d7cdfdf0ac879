// `bext plugin inspect` and `bext plugin run` as users run them (real CLI subprocess).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from './helpers.js';
import { callHook } from '../examples/lib.js';
import { inspectPluginFile } from '../../dist/plugins/engine.js';

const dir = tempDir('bext-cli-rt-');
const demo = path.join(dir, 'demo.wasm');
writeFileSync(demo, wat(readFileSync(path.join(ROOT, 'test/fixtures/runtime/demo.wat'), 'utf8')));
writeFileSync(
  path.join(dir, 'bext.config.toml'),
  `[plugins.demo]
path = "./demo.wasm"
[plugins.demo.config]
endpoint = "https://a.example/in"
[plugins.demo.fuel]
on_request_complete = 250_000
`,
);
const run = (args, opts = {}) => bext(args, { cwd: dir, ...opts });

test('inspect: imports with signatures, exports, hooks; exit 0', async () => {
  const r = run(['plugin', 'inspect', 'demo.wasm']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^file {8}demo\.wasm \([\d,]+ bytes\)$/m);
  assert.match(r.stdout, /^hooks {7}on_server_start, on_request_complete -> i32, on_cache_write, on_cache_invalidate -> i64, on_reload, cleanup$/m);
  assert.match(r.stdout, /^ {2}bext\.get_config +\(i32, i32\) -> i64$/m);
  assert.match(r.stdout, /^ {2}wasi_snapshot_preview1\.fd_write +\(i32, i32, i32, i32\) -> i32$/m);
  assert.match(r.stdout, /^ {2}bext_alloc +\(i32\) -> i32$/m);
  assert.match(r.stdout, /^allocator {3}bext_alloc$/m);
  assert.match(r.stdout, /^ABI v1: ok$/m);
  // --json prints inspectPluginFile's report (the examples' tests run it through the CLI): here in-process.
  const j = JSON.parse(JSON.stringify(await inspectPluginFile(demo)));
  assert.equal(j.problems.length, 0);
  assert.equal(j.hooks.length, 6);
  assert.deepEqual(j.imports.find((i) => i.name === 'emit_metric'), { module: 'bext', name: 'emit_metric', kind: 'function', signature: '(i32, i32, f64, i32, i32) -> ()' });
});

test('inspect: problems listed, exit 2; not wasm and missing file exit 2', () => {
  writeFileSync(path.join(dir, 'bad.wasm'), wat('(module (import "bext" "get_config" (func (param i32 i32) (result i32))) (func (export "on_reload") (param i32)))'));
  const r = run(['plugin', 'inspect', 'bad.wasm']);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^problems \(3\)$/m);
  assert.match(r.stdout, /✗ import "bext"\."get_config" has signature \(i32, i32\) -> i32; expected \(i32, i32\) -> i64 or \(i32, i32\) -> \(i32, i32\)/);
  assert.match(r.stdout, /✗ no exported memory/);
  assert.match(r.stdout, /✗ hook "on_reload" has signature \(i32\) -> \(\); expected \(\) -> \(\) or \(\) -> i32 or \(\) -> i64/);
  writeFileSync(path.join(dir, 'notes.wasm'), 'just text');
  const n = run(['plugin', 'inspect', 'notes.wasm', '--json']);
  assert.equal(n.code, 2);
  assert.match(JSON.parse(n.stdout).problems[0], /not a WebAssembly binary/);
  const m = run(['plugin', 'inspect', 'missing.wasm']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /^bext: plugin inspect: .*missing\.wasm: no such file$/m);
});

test('run FILE: outcome, fuel with separators and percent, time, logs, metrics; exit 0', () => {
  const event = JSON.stringify({ path: '/about', status: 200 });
  const r = run(['plugin', 'run', './demo.wasm', 'on_request_complete', '--input', event]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^outcome {2}ok$/m);
  assert.match(r.stdout, /^fuel {5}[\d,]+ of 100,000,000 \(0\.0%\)$/m);
  assert.match(r.stdout, /^time {5}[\d.]+ (µs|ms)$/m);
  assert.match(r.stdout, /^ {2}info {2}guest {2}\{"path":"\/about","status":200\}$/m);
  assert.match(r.stdout, /^ {2}debug stdout hello from wasi$/m);
  assert.match(r.stdout, /^ {2}requests 1 \{route=home\}$/m);
});

test('run NAME: config, budgets and config JSON from bext.config.toml; --json is one object', async () => {
  const r = run(['plugin', 'run', 'demo', 'on_server_start', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.outcome, 'ok');
  assert.equal(j.budget, 500_000_000);
  assert.deepEqual(j.logs.map((l) => l.msg), ['{"endpoint":"https://a.example/in"}', '"https://a.example/in"']);
  // The same call for another hook, in this process (callHook: the command's preparation and engine).
  const r2 = (await callHook(path.join(dir, 'bext.config.toml'), 'demo', 'on_request_complete')).result;
  assert.equal(r2.budget, 250_000, 'per-plugin fuel override');
  assert.ok(r2.fuelUsed > 0 && r2.fuelUsed < 250_000, `fuel ${r2.fuelUsed}`);
  assert.ok(Math.abs(r2.fuelPercent - (r2.fuelUsed / 250_000) * 100) < 1e-9);
  assert.ok(JSON.parse(r2.logs[0].msg).path === '/', 'a sample event when --input is absent');
});

test('run: out of fuel / error / trap exit 1 with the reason', () => {
  const f = run(['plugin', 'run', 'demo.wasm', 'on_reload', '--fuel', '100_000']);
  assert.equal(f.code, 1);
  if (!/fuel {5}0 of/.test(f.stdout)) {
    assert.match(f.stdout, /^outcome {2}out of fuel$/m);
    assert.match(f.stdout, /^message {2}all fuel consumed: on_reload used its 100,000 budget$/m);
    assert.match(f.stdout, /^fuel {5}100,000 of 100,000 \(100\.0%\)$/m);
  }
  const e = run(['plugin', 'run', 'demo.wasm', 'on_cache_invalidate', '--input', '{"pattern":"page:*","count":2}']);
  assert.equal(e.code, 1);
  assert.match(e.stdout, /^outcome {2}error$/m);
  assert.match(e.stdout, /^message {2}invalidate refused$/m);
  const t = run(['plugin', 'run', 'demo.wasm', 'cleanup', '--json']);
  assert.equal(t.code, 1);
  const j = JSON.parse(t.stdout);
  assert.equal(j.outcome, 'trap');
  assert.equal(j.trapKind, 'unreachable');
  assert.match(j.stack[0], /^explode @ 0x[0-9a-f]+$/, 'the unreachable');
  assert.match(j.stack[1], /^explode @ 0x[0-9a-f]+ \(×3\)$/, 'the recursive calls, folded');
  assert.match(j.stack[2], /^cleanup @ 0x[0-9a-f]+$/);
  const human = run(['plugin', 'run', 'demo.wasm', 'cleanup']);
  assert.match(human.stdout, /^trap {5}unreachable$/m);
  assert.match(human.stdout, /^guest stack \(innermost first\)\n {2}at explode @ 0x[0-9a-f]+\n {2}at explode @ 0x[0-9a-f]+ \(×3\)\n {2}at cleanup @/m);
});

test('run: on_cache_write input from @file; a hook the module lacks is skipped with exit 0', () => {
  writeFileSync(path.join(dir, 'cw.json'), '{"key":"page:/blog/1","tags":["blog","post:1"]}');
  const r = run(['plugin', 'run', 'demo.wasm', 'on_cache_write', '--input', '@cw.json', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).logs.map((l) => l.msg), ['page:/blog/1', '["blog","post:1"]']);
  const s = run(['plugin', 'run', 'demo.wasm', 'on_server_stop']);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /^outcome {2}ok \(skipped: the module does not export on_server_stop\)$/m);
});

test('run: usage errors exit 2 with a clear first line', async () => {
  const cases = [
    [['demo.wasm', 'on_request_complet'], /^bext: unknown hook "on_request_complet"; did you mean "on_request_complete"\?$/m],
    [['demox', 'on_reload'], /^bext: no plugin named "demox" in .*bext\.config\.toml; did you mean "demo"\?$/m],
    [['demo.wasm', 'on_reload', '--fuel', 'lots'], /^bext: --fuel must be a positive whole number, got "lots"$/m],
    [['demo.wasm', 'on_request_complete', '--input', '{oops'], /^bext: --input is not valid JSON: /m],
    [['demo.wasm', 'on_request_complete', '--input', '@nope.json'], /^bext: --input @nope\.json: no such file$/m],
    [['demo.wasm', 'on_reload', '--input', '{}'], /^bext: on_reload takes no input; drop --input$/m],
    [['demo.wasm', 'on_cache_write', '--input', '{"tags":[]}'], /^bext: on_cache_write --input must be \{"key"/m],
  ];
  // Through the CLI once (exit 2, `bext: ` and the message first), and for a module with ABI
  // problems, which only the engine finds.
  for (const args of [cases[0][0], ['bad.wasm', 'on_reload']]) {
    const r = run(['plugin', 'run', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, args[0] === 'bad.wasm' ? /^bext: plugin "bad": bad\.wasm: 3 ABI problems:$/m : cases[0][1]);
  }
  // Every flag and argument problem is found by prepareHookCall, before anything loads: the
  // usage error (exit 2) whose message main prints after `bext: `, checked here in this process.
  // The module and config are named from `dir`, where the CLI above runs (@nope.json is missing
  // from either folder).
  const { prepareHookCall } = await import('../../dist/cli/commands/hook-call.js');
  for (const [[target, hook, ...flags], re] of cases) {
    const opts = { config: path.join(dir, 'bext.config.toml') };
    for (let i = 0; i < flags.length; i += 2) opts[flags[i].slice(2)] = flags[i + 1];
    await assert.rejects(prepareHookCall(target.endsWith('.wasm') ? path.join(dir, target) : target, hook, opts), (err) => {
      assert.equal(err.exitCode, 2, `${target} ${hook} ${flags.join(' ')}: ${err.message}`);
      assert.match(`bext: ${err.message}`, re);
      return true;
    });
  }
});

test('run NAME: http_fetch goes through the host fetch client with the plugin\'s allowed_urls', async () => {
  const { createServer } = await import('node:http');
  const { bextSpawn } = await import('../helpers/cli.js');
  const server = createServer((req, res) => res.end(`pong ${req.method} ${req.url}`));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    writeFileSync(
      path.join(dir, 'fetcher.wasm'),
      wat(`(module
        (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
        (import "bext" "log" (func $log (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (global $hp (mut i32) (i32.const 4096))
        (data (i32.const 0) "info")
        (func (export "bext_alloc") (param i32) (result i32) (local i32)
          (local.set 1 (global.get $hp)) (global.set $hp (i32.add (global.get $hp) (local.get 0))) (local.get 1))
        (func (export "on_request_complete") (param i32 i32) (result i32) (local $r i64)
          (local.set $r (call $fetch (local.get 0) (local.get 1)))
          (if (i64.lt_s (local.get $r) (i64.const 0)) (then (return (i32.wrap_i64 (local.get $r)))))
          (call $log (i32.const 0) (i32.const 4) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
          (i32.const 0)))`),
    );
    writeFileSync(
      path.join(dir, 'fetch.config.toml'),
      `[plugins.fetcher]\npath = "./fetcher.wasm"\n[plugins.fetcher.permissions]\nallowed_urls = ["http://127.0.0.1:${port}/ok/*"]\n`,
    );
    const runAsync = (url) =>
      new Promise((resolve) => {
        const child = bextSpawn(['plugin', 'run', 'fetcher', 'on_request_complete', '-c', 'fetch.config.toml', '--json', '--input', JSON.stringify({ url })], { cwd: dir });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ code, json: JSON.parse(out) }));
      });
    const ok = await runAsync(`http://127.0.0.1:${port}/ok/ping`);
    assert.equal(ok.code, 0);
    const res = JSON.parse(ok.json.logs[0].msg);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'pong GET /ok/ping');
    const refused = await runAsync(`http://127.0.0.1:${port}/secret`);
    assert.equal(refused.code, 0);
    const r2 = JSON.parse(refused.json.logs[0].msg);
    assert.equal(r2.status, 0);
    assert.match(r2.error, /allowed_urls|not allowed/i);
  } finally {
    server.close();
  }
});
