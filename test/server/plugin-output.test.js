// Plugin output as users see it: bounded however much a plugin says, one readable line per log
// call on a terminal, JSON lines on a pipe, unterminated stdout shown when the call ends, and a
// dev server that keeps answering while a plugin logs 20,000 lines per call.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { wat } from '../helpers/wasm.js';
import { skipWithout } from '../helpers/toolchains.js';
import { makeProject, startDev, writeConfig } from './helpers.js';

const LINES = 20_000;

// on_request_complete: 20,000 log(warn) lines; on_reload: 20,000 NaN emit_metric samples;
// on_server_start: one info line, then "no newline" on stdout without a newline.
const NOISY = `(module
  (import "bext" "log" (func $log (param i32 i32 i32 i32)))
  (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "warn")
  (data (i32.const 110) "info")
  (data (i32.const 200) "noisy line")
  (data (i32.const 300) "Analytics endpoint: https://analytics.example.com/ingest")
  (data (i32.const 400) "no newline")
  (data (i32.const 500) "requests")
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "on_server_start") (param i32 i32)
    (call $log (i32.const 110) (i32.const 4) (i32.const 300) (i32.const 56))
    (i32.store (i32.const 0) (i32.const 400))
    (i32.store (i32.const 4) (i32.const 10))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "on_request_complete") (param i32 i32) (local $i i32)
    (loop $l
      (call $log (i32.const 100) (i32.const 4) (i32.const 200) (i32.const 10))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${LINES})))))
  (func (export "on_reload") (local $i i32)
    (loop $l
      (call $metric (i32.const 500) (i32.const 8) (f64.div (f64.const 0) (f64.const 0)) (i32.const 0) (i32.const 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${LINES}))))))`;

const dir = tempDir('bext-output-');
const noisy = path.join(dir, 'noisy.wasm');
writeFileSync(noisy, wat(NOISY));

const runJson = (hook) => {
  const r = bext(['plugin', 'run', noisy, hook, '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

test('plugin run: 20,000 log lines in one call are bounded, with a suppression summary that counts the rest', () => {
  const out = runJson('on_request_complete');
  const shown = out.logs.filter((l) => l.source === 'guest');
  const summaries = out.logs.filter((l) => l.source === 'host');
  // 500 at once, then 100 a second for as long as the call ran (longer on a busy machine).
  const most = 500 + 100 * Math.ceil(out.wallUs / 1e6 + 1);
  assert.ok(shown.length >= 500 && shown.length <= most, `${shown.length} lines shown in a call of ${Math.round(out.wallUs / 1000)} ms`);
  assert.equal(summaries.length, 1, JSON.stringify(summaries));
  const m = /^([\d,]+) log lines suppressed .*\(limit: 500 at once, then 100 a second\)$/.exec(summaries[0].msg);
  assert.ok(m, summaries[0].msg);
  assert.equal(summaries[0].level, 'warn');
  assert.equal(shown.length + Number(m[1].replaceAll(',', '')), LINES, 'every line is shown or counted');
});

test('plugin run: 20,000 NaN metric samples give one warning and one count, not 20,000 warnings', () => {
  const out = runJson('on_reload');
  assert.deepEqual(out.logs.map((l) => l.msg), [
    'bext.emit_metric: value of "requests" is not finite; sample dropped',
    'bext.emit_metric: value of "requests" is not finite; sample dropped (×19,999 more)',
  ]);
  assert.deepEqual(out.metrics, []);
});

test('plugin run: stdout written without a newline is shown when the call ends', () => {
  const r = bext(['plugin', 'run', noisy, 'on_server_start'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}info {2}guest {2}Analytics endpoint: https:\/\/analytics\.example\.com\/ingest$/m);
  assert.match(r.stdout, /^ {2}debug stdout no newline$/m);
});

test('C printf without a newline reaches the log at the end of the call (the SDK exports bext_flush)', { skip: skipWithout('c') }, () => {
  const src = path.join(dir, 'printf.c');
  writeFileSync(src, '#include "bext.h"\nBEXT_EXPORT_HOOK(on_reload)(void) {\n  printf("line one\\n");\n  printf("no newline");\n  return BEXT_OK;\n}\n');
  const wasm = path.join(dir, 'printf.wasm');
  const c = spawnSync('clang', ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-I', path.join(ROOT, 'sdk/c'), '-o', wasm, src], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const r = bext(['plugin', 'run', wasm, 'on_reload', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).logs.map((l) => [l.source, l.msg]), [['stdout', 'line one'], ['stdout', 'no newline']]);
});

function project() {
  const p = makeProject({ 'index.html': '<h1>hi</h1>' });
  copyFileSync(noisy, path.join(p, 'plugins', 'noisy.wasm'));
  writeConfig(p, '[server]\nroot = "./public"\n[cache]\nenabled = false\n[plugins.my-analytics]\npath = "./plugins/noisy.wasm"\n');
  return p;
}

test('bext dev on a terminal format: one line per log call, NO_COLOR honoured; JSON lines on a pipe', async (t) => {
  const p = project();
  const TIME = '\\d\\d:\\d\\d:\\d\\d';
  // NO_COLOR winning over FORCE_COLOR is the same decision (wantsColour), checked in test/log/output.test.js.
  for (const [env, coloured] of [[{ NO_COLOR: '1' }, false], [{ NO_COLOR: '', FORCE_COLOR: '1' }, true]]) {
    const dev = await startDev(p, { env: { BEXT_LOG_FORMAT: 'pretty', BEXT_PLUGIN_LOG: 'debug', ...env } });
    t.after(() => dev.stop('SIGKILL'));
    await dev.waitFor(() => dev.stderr().includes('no newline'), 30_000, 'the plugin lines');
    await dev.stop();
    const err = dev.stderr();
    assert.equal(err.includes('\x1b['), coloured, JSON.stringify(env));
    // eslint-disable-next-line no-control-regex
    const lines = err.replace(/\x1b\[[\d;]*m/g, '').split('\n');
    assert.equal(lines.filter((l) => new RegExp(`^${TIME} my-analytics {2}info {2}Analytics endpoint: https://analytics\\.example\\.com/ingest$`).test(l)).length, 1, err);
    assert.equal(lines.filter((l) => new RegExp(`^${TIME} my-analytics {2}debug stdout no newline$`).test(l)).length, 1, err);
    assert.ok(lines.some((l) => new RegExp(`^${TIME} bext {10}info {2}SIGTERM: shutting down`).test(l)), err);
  }
  const dev = await startDev(p, { env: { BEXT_PLUGIN_LOG: 'debug' } });
  t.after(() => dev.stop('SIGKILL'));
  await dev.waitFor(() => dev.logs().some((l) => l.msg === 'no newline'), 30_000, 'the plugin lines');
  const line = dev.logs().find((l) => l.msg === 'no newline');
  assert.deepEqual(Object.keys(line), ['level', 'time', 'plugin', 'source', 'msg']);
  assert.deepEqual([line.level, line.plugin, line.source], [20, 'my-analytics', 'stdout']);
  assert.ok(dev.stderr().split('\n').filter(Boolean).every((l) => l.startsWith('{')), 'only JSON lines on a pipe');
});

test('bext dev keeps answering while a plugin logs 20,000 lines per request; its output stays bounded', async (t) => {
  const t0 = Date.now();
  const dev = await startDev(project(), { env: { BEXT_PLUGIN_LOG: 'warn' } });
  t.after(() => dev.stop('SIGKILL'));
  const N = 40;
  for (let i = 0; i < N; i++) {
    const res = await fetch(dev.url);
    assert.equal(res.status, 200);
    await res.text();
  }
  await dev.waitFor(() => dev.logs().some((l) => l.suppressed > 0), 15_000, 'a suppression summary');
  const exit = await dev.stop();
  assert.equal(exit.code, 0, dev.stderr().slice(-2000));
  const logs = dev.logs().filter((l) => l.plugin === 'my-analytics');
  const shown = logs.filter((l) => l.source === 'guest').length;
  const suppressed = logs.reduce((n, l) => n + (l.suppressed ?? 0), 0);
  // Every line of every call that ran is either shown or counted (close reports what is pending).
  assert.equal((shown + suppressed) % LINES, 0, `${shown} shown + ${suppressed} suppressed`);
  assert.ok(shown + suppressed >= LINES);
  // 500 at once, then 100 a second while the server ran: far below the 800,000 lines said.
  const most = 500 + 100 * Math.ceil((Date.now() - t0) / 1000);
  assert.ok(shown <= most, `${shown} lines shown in ${Date.now() - t0} ms`);
  assert.ok(dev.stderr().length < 2_000_000, `${dev.stderr().length} bytes of stderr`);
});

