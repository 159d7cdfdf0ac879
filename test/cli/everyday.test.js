// The everyday edges of the CLI: inspect by configured name, the version in every spelling,
// log level names, a misspelt import's did-you-mean, long durations, and init's .gitignore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { wat } from '../helpers/wasm.js';
import { duration } from '../../dist/format.js';
import { checkLogLevels } from '../../dist/log.js';

const PLUGIN = wat(`(module
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_reload")))`);
const MISSPELT = wat(`(module
  (import "bext" "storage_gett" (func (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "on_reload")))`);

function project() {
  const dir = tempDir('bext-everyday-');
  writeFileSync(path.join(dir, 'demo.wasm'), PLUGIN);
  writeFileSync(path.join(dir, 'bext.config.toml'), '[plugins.demo]\npath = "demo.wasm"\n');
  return dir;
}

test('plugin inspect NAME inspects a configured plugin, like plugin run NAME', () => {
  const dir = project();
  const byName = bext(['plugin', 'inspect', 'demo', '--json'], { cwd: dir });
  assert.equal(byName.code, 0, byName.stderr);
  const byFile = bext(['plugin', 'inspect', 'demo.wasm', '--json'], { cwd: dir });
  assert.equal(byFile.code, 0, byFile.stderr);
  assert.deepEqual(JSON.parse(byName.stdout), JSON.parse(byFile.stdout));
  const text = bext(['plugin', 'inspect', 'demo'], { cwd: dir });
  assert.match(text.stdout, /^file {8}demo\.wasm \(\d+ bytes\)$/m);
  assert.match(text.stdout, /^hooks {7}on_reload$/m);
  const typo = bext(['plugin', 'inspect', 'dem'], { cwd: dir });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^bext: no plugin named "dem" in bext\.config\.toml; did you mean "demo"\?/);
});

test('-V, --version, -v and bext version print the version', () => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const args of [['-V'], ['--version'], ['-v'], ['version']]) {
    const r = bext(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.stdout, `${version}\n`, args.join(' '));
  }
});

test('an unknown BEXT_LOG or BEXT_PLUGIN_LOG level is an error naming the valid ones (exit 2)', () => {
  const dir = project();
  for (const name of ['BEXT_PLUGIN_LOG', 'BEXT_LOG']) {
    const r = bext(['config', 'check'], { cwd: dir, env: { [name]: 'verbose' } });
    assert.equal(r.code, 2, name);
    assert.equal(r.stderr.split('\n')[0], `bext: ${name}="verbose" is not a log level; use one of trace, debug, info, warn, error, fatal, silent`);
    assert.equal(r.stdout, '');
  }
  const r = bext(['config', 'check'], { cwd: dir, env: { BEXT_PLUGIN_LOG: 'DEBUG', BEXT_LOG: ' info ' } });
  assert.equal(r.code, 0, r.stderr);
  // The other spellings through the check that runs before every command, in this process.
  for (const level of ['DEBUG', 'warn', ' info ', '']) {
    assert.doesNotThrow(() => checkLogLevels({ BEXT_PLUGIN_LOG: level, BEXT_LOG: level }), `"${level}"`);
  }
  assert.throws(() => checkLogLevels({ BEXT_LOG: 'verbose' }), /BEXT_LOG="verbose" is not a log level/);
  // Help and the version never need a logger.
  assert.equal(bext(['--version'], { env: { BEXT_LOG: 'verbose' } }).code, 0);
});

test('a misspelt import gets a did-you-mean, from inspect and from config check', () => {
  const dir = tempDir('bext-everyday-');
  writeFileSync(path.join(dir, 'typo.wasm'), MISSPELT);
  const r = bext(['plugin', 'inspect', 'typo.wasm'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /✗ import "bext"\."storage_gett" is not part of ABI v1 .*; did you mean "storage_get"\?/);
  writeFileSync(path.join(dir, 'bext.config.toml'), '[plugins.typo]\npath = "typo.wasm"\n');
  const check = bext(['config', 'check'], { cwd: dir });
  assert.equal(check.code, 2);
  assert.match(check.stderr, /bext\.config\.toml:2:8 {2}plugins\.typo\.path: .*did you mean "storage_get"\?/);
});

test('durations keep about three figures: µs, ms, then seconds', () => {
  assert.equal(duration(850), '850 µs');
  assert.equal(duration(12_400), '12.4 ms');
  assert.equal(duration(3_204_000), '3.20 s');
  assert.equal(duration(14_570_800), '14.6 s');
  assert.equal(duration(146_200_000), '146 s');
  const dir = tempDir('bext-everyday-');
  writeFileSync(path.join(dir, 'in.wasm'), PLUGIN);
  const r = bext(['plugin', 'instrument', 'in.wasm', '-o', 'out.wasm'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, / in [\d.]+ (µs|ms|s); exports bext_fuel/);
  assert.doesNotMatch(r.stdout, /\d{4,}(\.\d+)? ms/, 'never thousands of ms');
});

test('bext init writes a .gitignore with .bext/, or adds the line to an existing one', () => {
  const fresh = tempDir('bext-everyday-');
  const r = bext(['init'], { cwd: fresh });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote {2}\.gitignore$/m);
  assert.ok(readFileSync(path.join(fresh, '.gitignore'), 'utf8').split('\n').includes('.bext/'));

  const existing = tempDir('bext-everyday-');
  writeFileSync(path.join(existing, '.gitignore'), 'node_modules');
  const again = bext(['init'], { cwd: existing });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^added {2}\.bext\/ to \.gitignore$/m);
  const text = readFileSync(path.join(existing, '.gitignore'), 'utf8');
  assert.ok(text.startsWith('node_modules\n'), 'the existing lines stay');
  assert.equal(text.split('\n').filter((l) => l === '.bext/').length, 1);

  // Already ignored: left alone, even with --force.
  const forced = bext(['init', '--force'], { cwd: existing });
  assert.equal(forced.code, 0, forced.stderr);
  assert.doesNotMatch(forced.stdout, /gitignore/);
  assert.equal(readFileSync(path.join(existing, '.gitignore'), 'utf8'), text);
});
