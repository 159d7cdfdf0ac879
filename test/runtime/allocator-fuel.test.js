// An allocator that runs out of fuel is out of fuel, wherever the host called it from: passing a
// hook's arguments (the fixed allocator allowance) or writing an import's result during a hook
// (the hook's own budget). The instrumenter's check traps with `unreachable` inside
// bext_out_of_fuel; that must never be reported as the guest's own `trap: unreachable`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';

/** bext_alloc spins forever once $spin is set (from the start when `always`). */
function spinningAllocator(always) {
  return wat(`(module
    (import "bext" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
    (import "bext" "storage_get" (func $get (param i32 i32) (result i64)))
    (memory (export "memory") 2)
    (data (i32.const 16) "k")
    (global $spin (mut i32) (i32.const ${always ? 1 : 0}))
    (func (export "bext_alloc") (param i32) (result i32)
      (if (global.get $spin) (then (loop $forever (br $forever))))
      (i32.const 1024))
    (func (export "on_request_complete") (param i32 i32))
    (func (export "on_reload")
      (drop (call $set (i32.const 16) (i32.const 1) (i32.const 16) (i32.const 1)))
      (global.set $spin (i32.const 1))
      (drop (call $get (i32.const 16) (i32.const 1)))))`);
}

function run(file, hook) {
  const r = bext(['plugin', 'run', file, hook, '--json'], { cwd: path.dirname(file) });
  assert.equal(r.code, 1, r.stderr);
  return JSON.parse(r.stdout);
}

test('out of fuel inside bext_alloc while the host passes hook arguments is out_of_fuel, not a trap', () => {
  const file = path.join(tempDir('bext-alloc-fuel-'), 'spin.wasm');
  writeFileSync(file, spinningAllocator(true));
  const j = run(file, 'on_request_complete');
  assert.equal(j.outcome, 'out_of_fuel', JSON.stringify(j));
  assert.equal(j.trapKind, undefined);
  assert.match(j.message, /^all fuel consumed: the allocator, passing on_request_complete arguments, used its 10,000,000 fuel allowance$/);
  assert.deepEqual(j.stack.map((f) => f.replace(/ @ .*/, '')), ['bext_alloc']);
});

test('out of fuel inside bext_alloc while the host writes a storage_get result is out_of_fuel', () => {
  const file = path.join(tempDir('bext-alloc-fuel-'), 'spin.wasm');
  writeFileSync(file, spinningAllocator(false));
  const j = run(file, 'on_reload');
  assert.equal(j.outcome, 'out_of_fuel', JSON.stringify(j));
  assert.equal(j.fuelUsed, j.budget);
  assert.deepEqual(j.stack.map((f) => f.replace(/ @ .*/, '')), ['bext_alloc', 'on_reload']);
});
