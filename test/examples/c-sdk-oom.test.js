// An SDK error path never reports success: a C plugin that used up every byte malloc can give
// and then returns bext_error() is still counted as an error (before, the failed copy packed to 0,
// which is "ok"). Built from test/fixtures/examples/c-sdk-oom/oom.c against sdk/c/bext.h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { skipWithout } from '../helpers/toolchains.js';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

const noC = skipWithout('c');

test('bext_error() after malloc failed is an error with its message, never ok', { skip: noC }, () => {
  const dir = tempDir('bext-c-oom-');
  const built = spawnSync('clang', ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-Wall', '-Wextra', '-Werror',
    '-I', path.join(ROOT, 'sdk', 'c'), '-o', path.join(dir, 'oom.wasm'), path.join(ROOT, 'test', 'fixtures', 'examples', 'c-sdk-oom', 'oom.c')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  writeFileSync(path.join(dir, 'bext.config.toml'), '[plugins.oom]\npath = "./oom.wasm"\n[plugins.oom.limits]\nmax_memory_mb = 2\n');
  const r = bext(['plugin', 'run', 'oom', 'on_reload', '--json'], { cwd: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.outcome, 'error');
  assert.match(j.message, /^out of memory: gave up after \d+ blocks$/);
});
