// Charge placement: moving charges between segments must never change what a call reports.
// Every export of seeded random modules is called with the plain one-charge-per-segment rewrite
// and with the optimised one, with a huge budget and with budgets around where it runs out; the
// outcome and the fuel left must be identical every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { instrument, isOutOfFuel } from '../../dist/fuel/index.js';
import { fuzzModule, exportedFunctions, argsFor, thinExports } from './fuzz.js';
import { wat, wasmText } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';

// `npm test` compares 12 modules; `npm run test:fuzz` (run by CI) compares 80.
const COUNT = Number(process.env.BEXT_PLACEMENT_COUNT ?? 12);
const FIRST_SEED = Number(process.env.BEXT_PLACEMENT_SEED ?? 5001);
const HUGE = 1n << 60n;

const noop = () => {};
const imports = {
  'fuzzing-support': {
    'log-i32': noop, 'log-i64': noop, 'log-f32': noop, 'log-f64': noop, 'log-v128': noop,
    'log-funcref': noop, 'log-externref': noop, 'log-anyref': noop, 'call-export': noop, 'call-export-catch': () => 0,
    sleep: (_ms, id) => id,
  },
  env: {},
};

/** Calls export `k` on a fresh instance with `budget`; returns "outcome remaining". */
async function callWith(module, name, params, k, budget) {
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, imports);
  } catch (err) {
    return `instantiate ${err.message}`;
  }
  instance.exports.bext_fuel.value = HUGE;
  instance.exports.hangLimitInitializer?.();
  instance.exports.bext_fuel.value = budget;
  let outcome;
  try {
    instance.exports[name](...argsFor(params, k));
    outcome = 'ok';
  } catch (err) {
    outcome = `${err.constructor.name}: ${err.message}`;
  }
  return `${outcome} ${instance.exports.bext_fuel.value}`;
}

test(`charge placement: ${COUNT} random modules report the same fuel with and without merged charges`, { timeout: 600_000 }, async () => {
  const dir = tempDir('bext-placement-');
  const failures = [];
  let tested = 0;
  let compared = 0;
  try {
    for (let seed = FIRST_SEED; tested < COUNT && seed < FIRST_SEED + COUNT * 3; seed++) {
      // Every other module loses half its function exports, so that more functions are
      // internal and get the fuel as a param (the generator exports nearly everything).
      const generated = await fuzzModule(dir, seed, 1000 + (seed % 5) * 700);
      const original = seed % 2 === 0 ? thinExports(generated) : generated;
      if (!WebAssembly.validate(original)) continue;
      tested++;
      const plain = await WebAssembly.compile(await instrument(original, { initialFuel: HUGE, moveCharges: false, threadFuel: false }));
      const merged = await WebAssembly.compile(await instrument(original, { initialFuel: HUGE, moveCharges: true }));
      for (const [k, { name, params }] of exportedFunctions(original).entries()) {
        const full = await callWith(plain, name, params, k, HUGE);
        const used = HUGE - BigInt(full.slice(full.lastIndexOf(' ') + 1));
        const budgets = new Set([HUGE, used, used - 1n, used + 1n, used / 2n, used / 3n, (used * 7n) / 8n, 3n, 1n, 0n]);
        for (const budget of budgets) {
          if (budget < 0n) continue;
          const a = budget === HUGE ? full : await callWith(plain, name, params, k, budget);
          const b = await callWith(merged, name, params, k, budget);
          compared++;
          if (a !== b) failures.push(`seed ${seed} ${name} budget ${budget}:\n  plain:  ${a}\n  merged: ${b}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(tested >= COUNT, `only ${tested} valid modules`);
  assert.ok(compared >= COUNT * 5, `only ${compared} calls compared`);
  assert.deepEqual(failures, [], failures.slice(0, 5).join('\n'));
});

// The shapes the merging targets, each run with every budget from 0 to a little over its cost.
const SHAPES = `(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $leaf (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  ;; if/else with arms of different cost, and a call in one arm.
  (func (export "arms") (param i32) (result i32)
    (local $i i32) (local $s i32)
    loop $l
      local.get $i i32.const 3 i32.rem_u
      if (result i32)
        local.get $i i32.const 2 i32.mul i32.const 1 i32.add
      else
        local.get $i
        local.get $i i32.const 4 i32.and
        if (result i32) local.get $i call $leaf else i32.const 7 end
        i32.add
      end
      local.get $s i32.add local.set $s
      local.get $i i32.const 1 i32.add local.tee $i local.get 0 i32.lt_u br_if $l
    end
    local.get $s)
  ;; "continue" shape: the then-arm always branches back; the tail is the implicit else arm.
  (func (export "cont") (param i32) (result i32)
    (local $i i32)
    loop $l
      local.get $i i32.const 1 i32.add local.set $i
      local.get $i local.get 0 i32.lt_u
      if
        local.get $i i32.const 4 i32.mul i32.const 1 i32.store
        global.get $g i32.const 1 i32.add global.set $g
        br $l
      end
      local.get $i i32.const 7 i32.add drop
    end
    global.get $g)
  ;; nested call-free loops: both headers branch to the shared out-of-fuel landing.
  (func (export "nested") (param i32) (result i32)
    (local $i i32) (local $j i32) (local $s i32)
    loop $o
      i32.const 0 local.set $j
      loop $in
        local.get $s local.get $j i32.add local.set $s
        local.get $j i32.const 1 i32.add local.tee $j local.get $i i32.le_u br_if $in
      end
      local.get $i i32.const 1 i32.add local.tee $i local.get 0 i32.lt_u br_if $o
    end
    local.get $s)
  ;; branched-to blocks with and without a check inside, nested.
  (func (export "blocks") (param i32) (result i32)
    (local $s i32)
    block $a
      block $b
        local.get 0 i32.const 1 i32.and br_if $b
        local.get 0 i32.const 2 i32.and br_if $a
        local.get $s i32.const 5 i32.add local.set $s
      end
      local.get $s i32.const 9 i32.xor local.set $s
      local.get 0 i32.const 4 i32.and
      if
        loop $l
          local.get $s i32.const 1 i32.add local.tee $s i32.const 20 i32.lt_u br_if $l
        end
      end
    end
    local.get $s i32.const 1 i32.add)
  ;; a loop whose block is skipped by one br_if and left early by another, with a loop inside
  ;; (the join after the block is charged in the segments leading to it; sieve-shaped), and a
  ;; trap inside the block once j reaches 16 (past the one page of memory).
  (func (export "skip") (param i32) (result i32)
    (local $i i32) (local $j i32) (local $n i32)
    loop $outer
      block $next
        local.get $i i32.const 3 i32.rem_u br_if $next
        local.get $n i32.const 1 i32.add local.set $n
        local.get $i local.get $i i32.mul local.tee $j local.get 0 i32.ge_u br_if $next
        loop $inner
          local.get $j i32.const 4096 i32.mul i32.load8_u drop
          local.get $j local.get $i i32.add i32.const 1 i32.add local.tee $j local.get 0 i32.lt_u br_if $inner
        end
        local.get $n i32.const 2 i32.add local.set $n
      end
      local.get $n i32.const 3 i32.xor local.set $n
      local.get $i i32.const 1 i32.add local.tee $i local.get 0 i32.lt_u br_if $outer
    end
    local.get $n)
  ;; a scanning loop left by two br_ifs to a block that ends right before the loop's end: the
  ;; code after the loop is charged on the refunded exit edges (whitespace skipping in a parser).
  ;; Memory at 100 holds " \t \t  x"; past the page the first load traps.
  (func (export "scan") (param i32) (result i32)
    (local $p i32) (local $c i32)
    local.get 0 local.set $p
    loop $l
      block $stop
        local.get $p i32.load8_u offset=100 local.tee $c
        i32.const 32 i32.gt_u br_if $stop
        local.get $c i32.const 9 i32.lt_u br_if $stop
        local.get $p i32.const 1 i32.add local.set $p
        br $l
      end
    end
    local.get $p i32.const 3 i32.mul local.get $c i32.add)
  (data (i32.const 100) " \t \t  x"))`;

/** Calls export `name` with one argument on a fresh instance; returns "outcome fuel-left". */
async function callExport(module, name, arg, budget) {
  const instance = await WebAssembly.instantiate(module, {});
  instance.exports.bext_fuel.value = budget;
  let outcome;
  try {
    outcome = `ok ${instance.exports[name](arg)}`;
  } catch (err) {
    outcome = `${err.constructor.name}: ${err.message}`;
  }
  return `${outcome} ${instance.exports.bext_fuel.value}`;
}

/**
 * Calls each [export, arg] on `reference` with a huge budget, then on both modules with every
 * budget from 0 to just past what the call uses; outcome and fuel left must match each time.
 * Returns how many budgets were compared and which calls trapped.
 */
async function compareAtEveryBudget(reference, rewritten, calls) {
  let compared = 0;
  const traps = new Set();
  for (const [name, arg] of calls) {
    const run = (module, budget) => callExport(module, name, arg, budget);
    const full = await run(reference, HUGE);
    if (full.startsWith('RuntimeError')) traps.add(`${name}(${arg})`);
    const used = HUGE - BigInt(full.slice(full.lastIndexOf(' ') + 1));
    // (A trap reports only the work up to the last write-back, which may be none.)
    assert.ok(used > 5n || traps.has(`${name}(${arg})`), `${name}(${arg}) should do some work`);
    assert.equal(await run(rewritten, HUGE), full, `${name}(${arg}) with a huge budget`);
    for (let budget = 0n; budget <= used + 2n; budget++) {
      assert.equal(await run(rewritten, budget), await run(reference, budget), `${name}(${arg}) with budget ${budget}`);
      compared++;
    }
  }
  return { compared, traps };
}

test('charge placement: hand-written shapes give the same outcome and fuel left at every budget', async () => {
  const bytes = wat(SHAPES);
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const merged = await WebAssembly.compile(await instrument(bytes, { moveCharges: true }));
  const calls = [['arms', 6], ['arms', 1], ['cont', 5], ['cont', 0], ['blocks', 0], ['blocks', 1], ['blocks', 2], ['blocks', 4], ['blocks', 7], ['nested', 4], ['skip', 1], ['skip', 7], ['skip', 12], ['skip', 40], ['scan', 0], ['scan', 3], ['scan', 6], ['scan', 70000]];
  const { compared } = await compareAtEveryBudget(plain, merged, calls);
  assert.ok(compared > 100);
});

// Internal functions (no export, no table) get the fuel as a param and hand it back as a result;
// the global is written after such a call returns only where something could trap before its
// next write. Each export below traps (or not, by its argument) at a different distance from an
// internal call's return; the fuel left must be what the global-only rewrite leaves.
const THREADED = `(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $leaf (param i32) (result i32) local.get 0 i32.const 3 i32.mul)
  (func $loads (param i32) (result i32) local.get 0 i32.load)
  (func $nested (param i32) (result i32) local.get 0 call $leaf local.get 0 call $loads i32.add)
  ;; cannot trap before its call writes the global, so its callers do not write it
  (func $wrap (param i32) (result i32) local.get 0 i32.const 4 i32.add call $loads)
  (func $fib (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) local.get 0
    else local.get 0 i32.const 1 i32.sub call $fib local.get 0 i32.const 2 i32.sub call $fib i32.add end)
  (func $two (param i32) (result i32 i32) local.get 0 local.get 0 i32.const 1 i32.add)
  ;; a load right after the return: traps when the address is out of bounds
  (func (export "load_after") (param i32) (result i32)
    local.get 0 call $leaf i32.load)
  ;; the trap is behind a branch: only one arm loads
  (func (export "arm") (param i32) (result i32)
    (local $v i32)
    local.get 0 call $leaf local.set $v
    local.get 0 i32.const 1 i32.and
    if (result i32) i32.const 65536 i32.load local.get $v i32.add else local.get $v i32.const 1 i32.add end)
  ;; a call in a loop; the division on the next iteration's path can trap
  (func (export "loop") (param i32) (result i32)
    (local $i i32) (local $s i32)
    loop $l
      local.get $s i32.const 100 local.get 0 local.get $i i32.sub i32.div_u i32.add local.set $s
      local.get $i call $leaf local.get $s i32.add local.set $s
      local.get $i i32.const 1 i32.add local.tee $i i32.const 6 i32.lt_u br_if $l
    end
    local.get $s)
  ;; no trap can follow the returns: fib's fuel never goes through the global between calls
  (func (export "fib") (param i32) (result i32) local.get 0 call $fib)
  ;; traps inside the callee, and inside a callee's callee
  (func (export "inside") (param i32) (result i32) local.get 0 call $loads)
  (func (export "nested") (param i32) (result i32) local.get 0 call $nested global.get $g i32.add)
  (func (export "wrapped") (param i32) (result i32) local.get 0 call $leaf call $wrap)
  ;; multiple results, then unreachable or a branch table
  (func (export "multi") (param i32) (result i32)
    block $b
      block $c
        local.get 0 call $two i32.add local.get 0 br_table $b $c $b
      end
      unreachable
    end
    local.get 0 call $two i32.sub))`;

test('threaded calls: traps after, inside and around internal calls leave the same fuel as the global-only rewrite', async () => {
  const bytes = wat(THREADED);
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const threaded = await WebAssembly.compile(await instrument(bytes, {}));
  const calls = [
    ['load_after', 4], ['load_after', 30000], ['arm', 2], ['arm', 3], ['loop', 9], ['loop', 3], ['fib', 7],
    ['inside', 8], ['inside', 70000], ['nested', 8], ['nested', 70000], ['wrapped', 8], ['wrapped', 30000], ['multi', 0], ['multi', 1],
  ];
  const { compared, traps } = await compareAtEveryBudget(plain, threaded, calls);
  // The shapes above must really trap where intended, or they test nothing.
  assert.deepEqual([...traps].sort(), ['arm(3)', 'inside(70000)', 'load_after(30000)', 'loop(3)', 'multi(1)', 'nested(70000)', 'wrapped(30000)']);
  assert.ok(compared > 200);
});

test('out-of-fuel landing: call-free loops run out at the same check, also when the body is wrapped', async () => {
  // "v" and "r" branch to their own function label (so the body gets a landing block for
  // those branches as well); their loops make no calls, so their checks use the shared landing.
  const bytes = wat(`(module
    (func (export "v") (param i32)
      local.get 0 br_if 0
      block $b
        loop $l
          local.get 0 i32.const 1 i32.add local.set 0
          br $l
        end
      end)
    (func (export "r") (param i32) (result i32)
      i32.const 5 local.get 0 br_if 0 drop
      loop $l (result i32)
        local.get 0 i32.const 1 i32.add local.tee 0 i32.const 40 i32.lt_u br_if $l
        i32.const 2
      end))`);
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const merged = await WebAssembly.compile(await instrument(bytes, { moveCharges: true }));
  for (const module of [plain, merged]) {
    const { exports } = await WebAssembly.instantiate(module, {});
    const run = (name, arg, budget) => {
      exports.bext_fuel.value = budget;
      try {
        return { value: exports[name](arg), left: exports.bext_fuel.value };
      } catch (err) {
        return { outOfFuel: isOutOfFuel(err, exports.bext_fuel.value), left: exports.bext_fuel.value };
      }
    };
    // An endless loop stops at the first loop-header check with nothing left: 3 before the
    // loop, 5 per iteration, so after 200 iterations 1000 - 3 - 1000 = -3 is left there.
    assert.deepEqual(run('v', 0, 1000n), { outOfFuel: true, left: -3n });
    assert.deepEqual(run('v', 1, 1000n), { value: undefined, left: 997n });
    assert.deepEqual(run('r', 1, 1000n), { value: 5, left: 996n });
    // r(0): entry 1 + 3 before the loop (drop is free), 7 per iteration (40 of them), 1 after:
    // 285.
    assert.deepEqual(run('r', 0, 1000n), { value: 2, left: 715n });
    // Its last check (the 40th header) runs after 4 + 39 * 7 = 277: a budget of 278 passes it,
    // 277 runs out there.
    assert.equal(run('r', 0, 278n).value, 2);
    assert.deepEqual(run('r', 0, 277n), { outOfFuel: true, left: 0n });
  }
});

// Counted loops (src/fuel/counted-loops.ts) get an unmetered copy that runs when the trip count
// is provable on entry and the fuel covers every header check. Each shape below must report the
// same outcome and fuel left as the plain rewrite at every budget, whichever copy runs.
const COUNTED = `(module
  (memory 1)
  ;; i += 3 until i == 30 (wraps around, so stays metered, unless 30 - a is a multiple of 3)
  (func (export "up_ne") (param $a i32) (result i32) (local $s i32)
    loop $l
      local.get $s local.get $a i32.add local.set $s
      local.get $a i32.const 3 i32.add local.tee $a i32.const 30 i32.ne br_if $l
    end
    local.get $s)
  ;; i -= 2 until i == 0
  (func (export "down_ne") (param $a i32) (result i32) (local $s i32)
    loop $l
      local.get $s i32.const 1 i32.add local.set $s
      local.get $a i32.const -2 i32.add local.tee $a i32.const 0 i32.ne br_if $l
    end
    local.get $s)
  ;; a step from a local (a & 7, possibly 0) and a bound from a local, unsigned; stores to memory
  (func (export "lt_u_local") (param $a i32) (result i32) (local $i i32) (local $st i32) (local $n i32)
    local.get $a i32.const 7 i32.and local.set $st
    local.get $a i32.const 20 i32.add local.set $n
    loop $l
      local.get $i i32.const 4 i32.mul local.get $i i32.store
      local.get $st local.get $i i32.add local.tee $i local.get $n i32.lt_u br_if $l
    end
    local.get $i)
  ;; signed, from a - 40 (negative) up to 7 in steps of 5, i64
  (func (export "lt_s_i64") (param $a i32) (result i32) (local $i i64) (local $s i64)
    local.get $a i64.extend_i32_s i64.const 40 i64.sub local.set $i
    loop $l
      local.get $s local.get $i i64.xor local.set $s
      local.get $i i64.const 5 i64.add local.tee $i i64.const 7 i64.lt_s br_if $l
    end
    local.get $s i32.wrap_i64)
  ;; down by 7 while above 3, unsigned (a small a wraps below 0 and stays metered)
  (func (export "gt_u") (param $a i32) (result i32) (local $k i32)
    loop $l
      local.get $k i32.const 1 i32.add local.set $k
      local.get $a i32.const -7 i32.add local.tee $a i32.const 3 i32.gt_u br_if $l
    end
    local.get $k)
  ;; down by 1 while above -60, signed
  (func (export "gt_s") (param $a i32) (result i32) (local $i i32) (local $k i32)
    i32.const 0 local.get $a i32.sub local.set $i
    loop $l
      local.get $k local.get $i i32.add local.set $k
      local.get $i i32.const -1 i32.add local.tee $i i32.const -60 i32.gt_s br_if $l
    end
    local.get $k)
  ;; i64 counting up by 8 to a bound; the store traps once i passes the memory's end
  (func (export "ne_i64_trap") (param $a i32) (result i32) (local $i i64)
    loop $l
      local.get $i i32.wrap_i64 local.get $a i32.mul i32.const 1 i32.store8
      local.get $i i64.const 8 i64.add local.tee $i i64.const 160 i64.ne br_if $l
    end
    local.get $i i32.wrap_i64)
  ;; not counted: the bound changes inside the loop
  (func (export "moving_bound") (param $a i32) (result i32) (local $i i32)
    loop $l
      local.get $a i32.const 1 i32.sub local.set $a
      local.get $i i32.const 1 i32.add local.tee $i local.get $a i32.lt_u br_if $l
    end
    local.get $i))`;

test('counted loops: the unmetered copy and the metered loop report the same fuel at every budget', async () => {
  const bytes = wat(COUNTED);
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const out = await instrument(bytes, {});
  const versioned = await WebAssembly.compile(out);
  // Seven loops get a second, unmetered copy; moving_bound does not.
  const text = wasmText(out);
  assert.equal(text.match(/^\s*loop\b/gm).length, 15, 'seven counted loops doubled, one not');
  const calls = [
    ['up_ne', 0], ['up_ne', 27], ['down_ne', 10], ['down_ne', 2], ['lt_u_local', 3], ['lt_u_local', 13],
    ['lt_s_i64', 0], ['lt_s_i64', 60], ['gt_u', 38], ['gt_u', 10], ['gt_s', 3], ['gt_s', 100],
    ['ne_i64_trap', 2], ['ne_i64_trap', 500], ['moving_bound', 30],
  ];
  const { compared, traps } = await compareAtEveryBudget(plain, versioned, calls);
  assert.deepEqual([...traps], ['ne_i64_trap(500)']);
  // Loops that wrap around (or never end: a step of 0) run metered and stop at the same check.
  for (const [name, arg] of [['up_ne', 1], ['up_ne', 30], ['lt_u_local', 0], ['lt_u_local', 8], ['gt_u', 2], ['gt_u', 5]]) {
    for (const budget of [0n, 1n, 57n, 1000n, 4321n]) {
      const a = await callExport(plain, name, arg, budget);
      assert.match(a, /^RuntimeError: unreachable/, `${name}(${arg}) runs out of fuel`);
      assert.equal(await callExport(versioned, name, arg, budget), a, `${name}(${arg}) with budget ${budget}`);
    }
  }
  assert.ok(compared > 1000);
});

// A call-free loop's check moves from its header to its entry and its back edges (body.ts,
// E.LOOP_ENTRY and E.BACK_EDGE): the fuel left there is the header's, so outcome and fuel left
// must match the plain rewrite at every budget, whichever edge a call runs out on.
const ROTATED = `(module
  (memory 1)
  (tag $e)
  ;; the back edge is the loop's closing br_if
  (func (export "bottom") (param $n i32) (result i32) (local $s i32)
    loop $l
      local.get $s local.get $n i32.add local.set $s
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l
    end
    local.get $s)
  ;; two back edges from inside an if and a block (br and br_if), one exit from the middle
  (func (export "edges") (param $n i32) (result i32) (local $i i32)
    block $out
      loop $l
        local.get $i i32.const 1 i32.add local.set $i
        local.get $i i32.const 3 i32.rem_u
        if
          local.get $i local.get $n i32.lt_u br_if $l
          br $out
        end
        block $b
          local.get $i i32.const 1 i32.and br_if $b
          local.get $i local.get $n i32.ge_u br_if $out
          br $l
        end
        local.get $i local.get $n i32.lt_u br_if $l
      end
    end
    local.get $i)
  ;; an inner loop whose br_if goes back to the outer loop (leaving the inner one)
  (func (export "outer_from_inner") (param $n i32) (result i32) (local $i i32) (local $j i32)
    loop $o
      local.get $i i32.const 1 i32.add local.set $i
      i32.const 0 local.set $j
      loop $in
        local.get $j i32.const 1 i32.add local.tee $j
        i32.const 3 i32.ge_u
        local.get $i local.get $n i32.lt_u
        i32.and br_if $o
        local.get $j i32.const 4 i32.lt_u br_if $in
      end
    end
    local.get $i)
  ;; a loop with a result, and values under the back edge's condition
  (func (export "result") (param $n i32) (result i32)
    i32.const 7
    loop $l (result i32)
      local.get $n i32.const 1 i32.sub local.tee $n
      local.get $n br_if $l
      drop
      local.get $n i32.const 2 i32.add
    end
    i32.add)
  ;; a br_table edge back to the loop: this loop keeps its header check
  (func (export "table") (param $n i32) (result i32) (local $i i32)
    block $out
      loop $l
        local.get $i i32.const 1 i32.add local.tee $i local.get $n i32.ge_u br_if $out
        local.get $i i32.const 1 i32.and
        br_table $l $l $out
      end
    end
    local.get $i)
  ;; a back edge from a catch_all handler: its segment reloads the fuel the throw wrote
  (func (export "caught") (param $n i32) (result i32) (local $i i32)
    loop $l
      try
        local.get $i i32.const 1 i32.add local.set $i
        throw $e
      catch_all
        local.get $i local.get $n i32.lt_u br_if $l
      end
    end
    local.get $i)
  ;; stores that trap on the way round (from 64000; from 0 they stay in the one page)
  (func (export "stores") (param $a i32) (result i32) (local $i i32)
    loop $l
      local.get $a i32.const 1 i32.store8
      local.get $a i32.const 4096 i32.add local.set $a
      local.get $i i32.const 1 i32.add local.tee $i i32.const 12 i32.lt_u br_if $l
    end
    local.get $i))`;

test('rotated loop checks: entry and back edges run out exactly where the header check did', async () => {
  const bytes = wat(ROTATED, { features: { exceptions: true } });
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const out = await instrument(bytes, {});
  const rotated = await WebAssembly.compile(out);
  // Every loop but the br_table one is checked right before its `loop`, none but that one right after.
  const text = wasmText(out, { features: { exceptions: true } });
  const before = text.match(/i64\.le_s\s+br_if \d+ \(;@1;\)\s+loop\b/g) ?? [];
  const after = text.match(/\bloop\b[^\n]*\n(\s*local\.get \d+\s+i64\.const \d+\s+i64\.sub\s+local\.set \d+\s+)?\s*local\.get \d+\s+i64\.const 0\s+i64\.le_s/g) ?? [];
  assert.equal(before.length, 7, 'seven loops checked on entry');
  assert.equal(after.length, 1, 'the br_table loop checked at its header');
  const calls = [
    ['bottom', 9], ['edges', 14], ['edges', 2], ['outer_from_inner', 5], ['result', 6], ['table', 9],
    ['caught', 6], ['stores', 64000], ['stores', 0],
  ];
  const { compared, traps } = await compareAtEveryBudget(plain, rotated, calls);
  assert.deepEqual([...traps], ['stores(64000)']);
  // Endless: nothing ends these but the fuel, at a back edge, at many budgets.
  for (const [name, arg] of [['bottom', 0], ['edges', 0xffffffff], ['caught', 0xffffffff]]) {
    for (const budget of [5n, 77n, 1000n, 4321n]) {
      const a = await callExport(plain, name, arg, budget);
      assert.match(a, /^RuntimeError: unreachable/, `${name}(${arg}) runs out of fuel`);
      assert.equal(await callExport(rotated, name, arg, budget), a, `${name}(${arg}) with budget ${budget}`);
    }
  }
  assert.ok(compared > 500);
});

// The entry check (and a calling loop's header check) sinks into the arms of the first `if` after
// it when the code between only reads and computes (body.ts, E.CHECK_ARM / E.CHECK_ELSE, and
// E.CHECK_FUSED, which folds the then-arm's copy into the `if`'s condition); a charge moves from
// before an `if` into both arms when one that goes round a loop has a charge of its own
// (sinkCharges). Neither may change an outcome or a count.
const SUNK = `(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (type $ii (func (param i32) (result i32)))
  ;; if/else right after pure code: both arms get the entry check
  (func $rec (param $n i32) (result i32)
    local.get $n i32.const 2 i32.lt_u
    if (result i32)
      local.get $n
    else
      local.get $n i32.const 1 i32.sub call $rec
      local.get $n i32.const 2 i32.sub call $rec i32.add
    end)
  (func (export "rec") (param i32) (result i32) local.get 0 call $rec)
  ;; an if without else: one is added for the check
  (func $no_else (export "no_else") (param $n i32) (result i32) (local $s i32)
    local.get $n i32.const 7 i32.and local.tee $s i32.const 3 i32.gt_u
    if
      local.get $s i32.const 5 i32.mul local.set $s
      global.get $g local.get $s i32.add global.set $g
    end
    local.get $s i32.const 1 i32.add)
  ;; a load before the first if: it may trap, so the check stays at the entry
  (func $load_first (export "load_first") (param $a i32) (result i32)
    local.get $a i32.load
    if (result i32) i32.const 1 else i32.const 2 end
    i32.const 7 i32.add i32.const 3 i32.xor i32.const 1 i32.shl)
  ;; a division before the first if: it may trap too
  (func $div_first (export "div_first") (param $a i32) (result i32)
    i32.const 100 local.get $a i32.div_u
    if (result i32) i32.const 1 else i32.const 2 end
    i32.const 7 i32.add i32.const 3 i32.xor i32.const 1 i32.shl)
  ;; an if with a type index and no else: no else can be added, the check stays
  (func $typed_if (export "typed_if") (param $a i32) (result i32)
    local.get $a
    local.get $a i32.const 1 i32.and
    if (type $ii) i32.const 3 i32.mul end
    i32.const 7 i32.add i32.const 3 i32.xor i32.const 1 i32.shl)
  ;; a loop of nested ifs, like a scanner: a string of bytes ends at 0 or at a quote, a backslash
  ;; skips one; the iteration's charges gather in the arms that go round again
  (func $scan (export "scan") (param $p i32) (result i32) (local $c i32)
    block $out
      loop $l
        local.get $p i32.load8_u local.tee $c i32.const 92 i32.ne
        if
          local.get $p i32.const 1 i32.add local.set $p
          local.get $c
          if
            local.get $c i32.const 34 i32.ne br_if $l
            local.get $p i32.const 1000 i32.add local.set $p
            br $out
          end
          br $out
        else
          local.get $p i32.const 2 i32.add local.set $p
          br $l
        end
      end
    end
    local.get $p)
  ;; a round loop whose arm that goes round has no charge of its own: the charge stays on top
  (func $rounds (export "rounds") (param $n i32) (result i32) (local $i i32) (local $s i32)
    loop $l
      local.get $s local.get $i i32.xor i32.const 5 i32.rotl local.set $s
      local.get $i local.get $n i32.ne
      if
        local.get $i i32.const 1 i32.add local.set $i
        br $l
      end
      local.get $s i32.const 3 i32.mul local.set $s
    end
    local.get $s)
  ;; a loop that calls, with an if right after its header: the header's check sinks too
  (func $ack (param $m i32) (param $n i32) (result i32)
    local.get $m
    if
      loop $l
        local.get $n
        if (result i32)
          local.get $m local.get $n i32.const 1 i32.sub call $ack
        else
          i32.const 1
        end
        local.set $n
        local.get $m i32.const 1 i32.sub local.tee $m
        br_if $l
      end
    end
    local.get $n i32.const 1 i32.add)
  (func $ack2 (export "ack2") (param i32) (result i32) i32.const 2 local.get 0 call $ack)
  ;; the same with an if without else in a loop that calls
  (func $calls_some (export "calls_some") (param $n i32) (result i32) (local $s i32)
    loop $l
      local.get $n i32.const 1 i32.and
      if
        local.get $n i32.const 7 i32.and call $rec local.get $s i32.add local.set $s
      end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l
    end
    local.get $s)
  (data (i32.const 16) "abc\\\\\\"de\\"tail")
  (data (i32.const 64) "xy\\00"))`;

test('sunk checks and charges: entry checks in the first if\'s arms and charges in the arms report the same at every budget', async () => {
  const bytes = wat(SUNK);
  const plain = await WebAssembly.compile(await instrument(bytes, { moveCharges: false, threadFuel: false }));
  const out = await instrument(bytes, {});
  const sunk = await WebAssembly.compile(out);
  const text = wasmText(out);
  // The functions that sink their entry check start with a plain charge, no check.
  const bodies = text.split(/\n {2}\(func /).slice(1);
  const entryChecked = (name) => {
    const body = bodies.find((b) => b.startsWith(`$${name} `)) ?? assert.fail(`no function ${name}`);
    return /^[^\n]*\n(\s*\(local[^\n]*\n)?\s*(local|global)\.get \d+\s+i64\.const \d+\s+i64\.sub\s+local\.tee/.test(body);
  };
  assert.equal(entryChecked('rec'), false, 'rec checks in its arms');
  assert.equal(entryChecked('no_else'), false, 'no_else checks in its arms');
  for (const name of ['load_first', 'div_first', 'typed_if']) assert.equal(entryChecked(name), true, `${name} checks at its entry`);
  const headerChecked = (name) => /\bloop\b[^\n]*\n\s*local\.get \d+\s+i64\.const 0\s+i64\.le_s/.test(bodies.find((b) => b.startsWith(`$${name} `)));
  assert.equal(headerChecked('ack'), false, 'ack checks its loop in the arms');
  assert.equal(headerChecked('calls_some'), false, 'calls_some checks its loop in the arms');
  // A loop's check that sank into an `if` is folded into its condition (the then-arm keeps none),
  // and then so is the entry's; an entry check alone (rec, no loop) stays a check in each arm.
  const fused = (name) => (bodies.find((b) => b.startsWith(`$${name} `)).match(/i64\.gt_s\s+i32\.and\s+if\b/g) ?? []).length;
  assert.equal(fused('ack'), 2, 'ack folds its entry and loop checks into the conditions');
  assert.equal(fused('calls_some'), 1, 'calls_some folds its loop check into the condition');
  assert.equal(fused('rec'), 0, 'rec keeps a check in each arm');
  const calls = [
    ['rec', 9], ['rec', 1], ['no_else', 5], ['no_else', 2], ['load_first', 8], ['load_first', 70000], ['div_first', 3], ['div_first', 0],
    ['typed_if', 5], ['typed_if', 4], ['scan', 16], ['scan', 64], ['rounds', 12],
    ['ack2', 3], ['calls_some', 9],
  ];
  const { compared, traps } = await compareAtEveryBudget(plain, sunk, calls);
  assert.deepEqual([...traps].sort(), ['div_first(0)', 'load_first(70000)']);
  assert.ok(compared > 300);
});
