// `bext config check` / `bext dev --check` load what they check: every enabled plugin's module goes
// through the checks starting it makes (no worker, no hook), each problem reported at the
// plugin's `path` line; `--no-plugins` checks the config alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { wat } from '../helpers/wasm.js';

const GOOD = wat(`(module
  (import "bext" "log" (func (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_reload")))`);
const MISSPELT = wat(`(module
  (import "bext" "storage_gett" (func (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_reload")))`);
const NO_HOOKS = wat('(module (memory (export "memory") 1))');
// 2 MiB of memory at minimum, above a 1 MiB limits.max_memory_mb.
const BIG_MEMORY = wat('(module (memory (export "memory") 32) (func (export "on_reload")))');

/** A project with the given files; the config lists `plugins` in order. */
function project(files, config) {
  const dir = tempDir('bext-check-plugins-');
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), bytes);
  }
  writeFileSync(path.join(dir, 'bext.config.toml'), config);
  return dir;
}

const CONFIG = [
  '[server]', //                       1
  'port = 3000', //                    2
  '', //                               3
  '[plugins.good]', //                 4
  'path = "plugins/good.wasm"', //     5
  '', //                               6
  '[plugins.text]', //                 7
  'path = "plugins/notes.wasm"', //    8
  '', //                               9
  '[plugins.misspelt]', //             10
  'path = "plugins/misspelt.wasm"', // 11
  '',
].join('\n');

const FILES = {
  'plugins/good.wasm': GOOD,
  'plugins/notes.wasm': 'these are my notes, not a wasm module\n',
  'plugins/misspelt.wasm': MISSPELT,
};

test('a non-wasm file and an unknown import: exit 2, each at its path line, with the problem', () => {
  const dir = project(FILES, CONFIG);
  for (const cmd of [['config', 'check'], ['dev', '--check']]) {
    const r = bext(cmd, { cwd: dir });
    assert.equal(r.code, 2, `${cmd.join(' ')}\n${r.stderr}`);
    assert.equal(r.stdout, '', 'nothing printed as valid');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'bext: bext.config.toml: 2 plugins would not load (2 problems)');
    assert.match(lines[1], /^ {2}bext\.config\.toml:8:8 {2}plugins\.text\.path: not a WebAssembly binary: the file does not start with the "\\0asm" magic bytes$/);
    assert.match(lines[2], /^ {2}bext\.config\.toml:11:8 {2}plugins\.misspelt\.path: import "bext"\."storage_gett" is not part of ABI v1 .*did you mean "storage_get"\?$/);
    assert.match(lines[3], /--no-plugins/);
    assert.equal(lines.length, 4, r.stderr);
  }
});

test('--no-plugins checks the config alone (exit 0); dev --no-plugins without --check is a usage error', () => {
  const dir = project(FILES, CONFIG);
  const r = bext(['config', 'check', '--no-plugins'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bext\.config\.toml: config is valid\n/);
  assert.match(r.stdout, /\nmodules: not checked \(--no-plugins\)\n/);
  const devCheck = bext(['dev', '--check', '--no-plugins'], { cwd: dir });
  assert.equal(devCheck.code, 0, devCheck.stderr);
  const misuse = bext(['dev', '--no-plugins'], { cwd: dir });
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /^bext: --no-plugins only applies with --check\n/);
});

test('modules that load pass (exit 0); warnings show at the path line without failing; disabled plugins are not read', () => {
  const dir = project(
    { 'plugins/good.wasm': GOOD, 'plugins/quiet.wasm': NO_HOOKS, 'plugins/notes.wasm': 'not wasm' },
    '[plugins.good]\npath = "plugins/good.wasm"\n[plugins.quiet]\npath = "plugins/quiet.wasm"\n[plugins.off]\npath = "plugins/notes.wasm"\nenabled = false\n',
  );
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\nplugins: 3 configured, 2 enabled\nmodules: 2 checked, each loads \(ABI v1 ok\)\n/);
  assert.match(r.stderr, /^ {2}bext\.config\.toml:4:8 {2}plugins\.quiet\.path: warning: exports no hooks/m);
  const json = bext(['config', 'check', '--json'], { cwd: dir });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).plugins.length, 3, '--json output is the config, unchanged');
  assert.equal(existsSync(path.join(dir, '.bext', 'state.db')), false, 'no state is created by checking');
});

test('the limits loading applies are checked too: a memory minimum above max_memory_mb', () => {
  const dir = project(
    { 'big.wasm': BIG_MEMORY },
    '[plugins.big]\npath = "big.wasm"\n[plugins.big.limits]\nmax_memory_mb = 1\n',
  );
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ {2}bext\.config\.toml:2:8 {2}plugins\.big\.path: memory declares a minimum of 32 pages \(2\.0 MiB\), above limits\.max_memory_mb = 1 \(16 pages\)$/m);
});

test('a file the config names that is missing is still the config\'s own error, reported once', () => {
  const dir = project({}, '[plugins.gone]\npath = "gone.wasm"\n');
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^bext: bext\.config\.toml: 1 problem in the config\n {2}bext\.config\.toml:2:8 {2}plugins\.gone\.path: file not found/);
});
