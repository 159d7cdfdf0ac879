// What a guest says cannot drive the terminal: NUL, ESC and other control characters in its log
// lines and error messages are shown escaped by `bext plugin run` and by `bext dev` (pretty and
// JSON); and metric tags that are not UTF-8 are reported as such, not as "not a JSON object".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';
import { startDev } from '../server/helpers.js';

// "a\0b\x1b[31mred\x07" as WAT string escapes; tags: the bytes ff fe (not UTF-8).
const GUEST = wat(`(module
  (import "bext" "log" (func $log (param i32 i32 i32 i32)))
  (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "warn")
  (data (i32.const 32) "a\\00b\\1b[31mred\\07")
  (data (i32.const 64) "hits")
  (data (i32.const 80) "\\ff\\fe")
  (data (i32.const 96) "bad\\00\\1b[2J")
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func $noise (result i64)
    (call $log (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 12))
    (call $metric (i32.const 64) (i32.const 4) (f64.const 1) (i32.const 80) (i32.const 2))
    (i64.or (i64.shl (i64.const 96) (i64.const 32)) (i64.const 8)))
  (func (export "on_reload") (result i64) (call $noise))
  (func (export "on_request_complete") (param i32 i32) (result i64) (call $noise)))`);

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

function project() {
  const dir = tempDir('bext-control-');
  mkdirSync(path.join(dir, 'public'));
  writeFileSync(path.join(dir, 'noisy.wasm'), GUEST);
  writeFileSync(path.join(dir, 'bext.config.toml'), '[server]\nroot = "./public"\n[plugins.noisy]\npath = "./noisy.wasm"\n');
  return dir;
}

test('plugin run shows control characters in guest logs and errors escaped', () => {
  const dir = project();
  const r = bext(['plugin', 'run', 'noisy', 'on_reload'], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stdout, RAW_CONTROL);
  assert.match(r.stdout, /^ +warn +guest +a\\x00b\\x1b\[31mred\\x07$/m);
  assert.match(r.stdout, /^message +bad\\x00\\x1b\[2J$/m);
  assert.match(r.stdout, /bext\.emit_metric: tags for "hits" are not valid UTF-8; sample dropped/);
  assert.doesNotMatch(r.stdout, /not a JSON object/);
});

test('bext dev writes guest text escaped, in pretty lines and in JSON lines', async (t) => {
  for (const format of ['pretty', 'json']) {
    const dir = project();
    const dev = await startDev(dir, { args: ['--no-watch'], env: { BEXT_LOG_FORMAT: format } });
    t.after(() => dev.stop('SIGKILL'));
    const res = await fetch(dev.url);
    await res.arrayBuffer();
    await dev.waitFor(() => /not valid UTF-8/.test(dev.stderr()), 30_000, `metric warning (${format})`);
    await dev.waitFor(() => /bad/.test(dev.stderr()), 30_000, `error message (${format})`);
    assert.doesNotMatch(dev.stderr(), RAW_CONTROL, format);
    if (format === 'pretty') assert.match(dev.stderr(), /noisy +warn +a\\x00b\\x1b\[31mred\\x07$/m);
    else assert.ok(dev.logs().some((l) => l.msg === 'a\u0000b\u001b[31mred\u0007'), 'JSON keeps the exact text, escaped as JSON');
    await dev.stop('SIGKILL');
  }
});
