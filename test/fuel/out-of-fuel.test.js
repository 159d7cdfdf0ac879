// Out-of-fuel behaviour: infinite loops and recursion stop, budgets are exact at the check
// points, the fuel trap is told apart from guest traps, and counts are deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, call } from './harness.js';
import { isOutOfFuel, innermostWasmFrame } from '../../dist/fuel/index.js';

const MODULE = `(module
  (func $nothing)
  (func (export "spin") (loop (br 0)))
  (func (export "spin_if") (loop (br_if 0 (i32.const 1))))
  (func (export "spin_table") (loop (br_table 0 (i32.const 0))))
  (func $rec (export "recurse") (call $rec))
  (func $tree (export "tree") (param i32)
    (if (local.get 0) (then
      (call $tree (i32.sub (local.get 0) (i32.const 1)))
      (call $tree (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "empty"))
  (func $four (drop (i32.const 1)))
  (func (export "calls_four") (call $four))
  (func (export "count") (param i32) (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "guest_trap") (drop (i32.const 1)) (drop (i32.const 1)) unreachable)
  (memory 1)
  (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0)))
)`;

test('infinite loops (br, br_if, br_table) run out of fuel at the budget', async () => {
  const { instance } = await load(MODULE);
  for (const name of ['spin', 'spin_if', 'spin_table']) {
    const r = call(instance, name, [], 10_000);
    assert.ok(r.error, `${name} should trap`);
    assert.equal(r.outOfFuel, true, `${name}: ${r.error}`);
    assert.equal(r.used, 10_000);
    assert.ok(r.remaining <= 0n);
  }
});

test('infinite recursion runs out of fuel before the stack does', async () => {
  const { instance } = await load(MODULE);
  const r = call(instance, 'recurse', [], 5_000);
  assert.equal(r.outOfFuel, true, String(r.error));
  assert.equal(r.used, 5_000);
});

test('an exponential call tree without loops is stopped at function entries', async () => {
  const { instance } = await load(MODULE);
  const r = call(instance, 'tree', [40], 1_000_000);
  assert.equal(r.outOfFuel, true, String(r.error));
});

test('budget 0 fails at once; an empty function needs a budget of 2 (remaining must stay > 0 at the entry check)', async () => {
  const { instance } = await load(MODULE);
  assert.equal(call(instance, 'empty', [], 0).outOfFuel, true);
  assert.equal(call(instance, 'empty', [], 1).outOfFuel, true);
  const ok = call(instance, 'empty', [], 2);
  assert.equal(ok.error, undefined);
  assert.equal(ok.used, 1);
});

test('budget exactly equal to the cost succeeds, one less runs out of fuel', async () => {
  const { instance } = await load(MODULE);
  // calls_four: entry 1 + call 1 + $four's entry 1 (checked: 3 charged) + const 1 = 4
  const exact = call(instance, 'calls_four', [], 4);
  assert.equal(exact.error, undefined);
  assert.equal(exact.used, 4);
  assert.equal(exact.remaining, 0n);
  const less = call(instance, 'calls_four', [], 3);
  assert.equal(less.outOfFuel, true);
  assert.equal(less.used, 3);
});

test('loop budgets: the last loop-header check decides (count N costs 5N + 1)', async () => {
  const { instance } = await load(MODULE);
  const n = 10;
  assert.equal(call(instance, 'count', [n], 1e9).used, 5 * n + 1);
  // The last header check happens with 1 + 5 (N - 1) charged; it needs remaining > 0 there.
  const min = 5 * (n - 1) + 2;
  assert.equal(call(instance, 'count', [n], min).error, undefined);
  assert.equal(call(instance, 'count', [n], min - 1).outOfFuel, true);
});

test('a guest unreachable is a trap, never out of fuel, even with the budget overdrawn', async () => {
  const { instance } = await load(MODULE);
  // Budget 2: the entry check passes (1 charged), the two consts overdraw it, then unreachable.
  const r = call(instance, 'guest_trap', [], 2);
  assert.ok(r.error instanceof WebAssembly.RuntimeError);
  assert.ok(r.remaining <= 0n, `remaining ${r.remaining}`);
  assert.equal(r.outOfFuel, false);
  assert.equal(isOutOfFuel(r.error, r.remaining), false);
  assert.notEqual(innermostWasmFrame(r.error), 'bext_out_of_fuel');
});

test('a huge bulk operation is charged per byte and checked right after', async () => {
  const { instance } = await load(MODULE);
  const r = call(instance, 'fill', [65536], 60_000);
  assert.equal(r.outOfFuel, true);
  const ok = call(instance, 'fill', [65536], 70_000);
  assert.equal(ok.error, undefined);
  assert.equal(ok.used, 1 + 3 + 1 + 65536);
});

test('the same call consumes the same fuel every time', async () => {
  const { instance } = await load(MODULE);
  const first = call(instance, 'tree', [10], 1e9).used;
  assert.ok(first > 0);
  for (let i = 0; i < 20; i++) assert.equal(call(instance, 'tree', [10], 1e9).used, first);
  const { instance: again } = await load(MODULE);
  assert.equal(call(again, 'tree', [10], 1e9).used, first);
});

test('start functions are metered from the initial fuel and can run out', async () => {
  const src = '(module (func $s (loop (br 0))) (start $s))';
  const { error } = await load(src, { initialFuel: 1000n });
  assert.ok(error, 'instantiation should trap');
  assert.equal(innermostWasmFrame(error), 'bext_out_of_fuel');
  assert.equal(isOutOfFuel(error, 0n), true);
});
