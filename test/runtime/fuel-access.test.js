// The worker reads and writes a guest's fuel through a small wasm module that imports the
// instrumenter's bext_fuel global (runtime/fuel-access.ts): its bytes are the WAT they claim to be,
// and it reads and writes the very global the metered code counts down, exactly, over the range
// budgets take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUEL_ACCESS_WASM, fuelAccess } from '../../dist/runtime/fuel-access.js';
import { instrument } from '../../dist/fuel/index.js';
import { wat } from '../helpers/wasm.js';

test('the fuel access module is the WAT its comment gives', () => {
  const built = wat(
    `(module
      (import "bext" "fuel" (global $fuel (mut i64)))
      (func (export "set") (param f64) (global.set $fuel (i64.trunc_sat_f64_s (local.get 0))))
      (func (export "get") (result f64) (f64.convert_i64_s (global.get $fuel))))`,
    { debugNames: false },
  );
  assert.deepEqual(Buffer.from(FUEL_ACCESS_WASM), built);
});

test('it reads and writes the global exactly, negative values and 2^53 included', () => {
  const g = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);
  const fuel = fuelAccess(g);
  for (const v of [0, 1, -1, 123_456_789, -40, 2 ** 53, -(2 ** 53), 2 ** 53 - 1]) {
    fuel.set(v);
    assert.equal(g.value, BigInt(v), `set ${v}`);
    assert.equal(fuel.get(), v, `get ${v}`);
  }
  g.value = -7n;
  assert.equal(fuel.get(), -7, 'a value the global got elsewhere');
});

test('a metered call counts down the fuel set through it', async () => {
  // Three loop iterations of a known cost each, then stop: what is left is exact.
  const bytes = await instrument(wat(`(module
    (func (export "run") (param i32)
      (loop $l
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br_if $l (local.get 0)))))`));
  const { instance } = await WebAssembly.instantiate(bytes);
  const fuel = fuelAccess(instance.exports.bext_fuel);
  fuel.set(1_000);
  instance.exports.run(3);
  const used3 = 1_000 - fuel.get();
  fuel.set(1_000);
  instance.exports.run(5);
  const used5 = 1_000 - fuel.get();
  // Entry 1; each iteration: local.get, i32.const, i32.sub, local.set, local.get, br_if = 6.
  assert.equal(used3, 1 + 3 * 6);
  assert.equal(used5, 1 + 5 * 6);
  assert.equal(instance.exports.bext_fuel.value, BigInt(1_000 - used5));
});
