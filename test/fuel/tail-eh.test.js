// Tail calls and exception handling: the hand-computed vectors in tail-eh.wast hold in every
// form of the rewrite, at every budget from 0 to past their cost, and give what the uninstrumented
// module gives; and a guest catch_all never catches bext's out-of-fuel trap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { instrument } from '../../dist/fuel/index.js';
import { parseVectors, runVector, vectorImports } from './golden.js';
import { call } from './harness.js';

const FEATURES = { exceptions: true, tail_call: true };
const assemble = (source) => wat(source, { features: FEATURES });
const vectors = parseVectors(path.join(ROOT, 'test/fixtures/fuel/tail-eh.wast'));

// The normal build, the reference forms tests compare placement against, and the profiling build.
const VARIANTS = [
  ['normal', {}],
  ['one charge per segment', { moveCharges: false }],
  ['fuel through the global only', { threadFuel: false }],
  ['profiling build', { profile: true }],
];

/** What a call ended in, comparable across the plain and the metered module. */
function outcome(fn) {
  try {
    const v = fn();
    return `ok ${Array.isArray(v) ? v.join(' ') : String(v)}`;
  } catch (err) {
    return err instanceof WebAssembly.Exception ? 'exception' : `trap ${err.message}`;
  }
}

for (const [label, options] of VARIANTS) {
  test(`tail-call and exception vectors (${label}): exact fuel and results`, async () => {
    assert.ok(vectors.length >= 25, `tail-eh.wast has ${vectors.length} vectors`);
    const failures = [];
    for (const v of vectors) {
      const problem = await runVector(v, assemble, options);
      if (problem) failures.push(problem);
    }
    assert.deepEqual(failures, [], failures.join('\n'));
  });
}

test('every budget from 0 to past the cost: out of fuel exactly at the first check it fails, else the plain result', async () => {
  const failures = [];
  let runs = 0;
  for (const v of vectors.filter((x) => x.checks)) {
    const bytes = assemble(v.module);
    const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), vectorImports());
    const expected = outcome(() => plain.exports[v.invoke.name](...v.invoke.args));
    for (const [label, options] of VARIANTS) {
      const { instance } = await WebAssembly.instantiate(await instrument(bytes, options), vectorImports());
      for (let budget = 0; budget <= v.expected + 2; budget++) {
        runs++;
        const r = call(instance, v.invoke.name, v.invoke.args, budget);
        const failsAt = v.checks.find((c) => budget - c <= 0);
        const got = r.outOfFuel ? 'out of fuel' : outcome(() => { if (r.error) throw r.error; return r.value; });
        const want = failsAt !== undefined ? 'out of fuel' : expected;
        const wantUsed = failsAt !== undefined ? budget : Math.min(budget, v.expected);
        if (got !== want || r.used !== wantUsed) {
          failures.push(`${v.where} (${label}) budget ${budget}: expected ${want} using ${wantUsed}, got ${got} using ${r.used}`);
        }
      }
    }
  }
  assert.ok(runs > 1000, `only ${runs} runs`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} mismatches`);
});

// Every kind of fuel check, reached inside a `try` whose catch_all would keep going: the guest
// must not get control back. The catch_all handlers record that they ran in $caught.
const GREEDY = `(module
  (import "js" "throw" (func $js-throw (param i32) (result i32)))
  (import "js" "reenter" (func $reenter))
  (global $caught (export "caught") (mut i32) (i32.const 0))
  (memory 4)
  (func $nop)
  (func $leaf-loop loop br 0 end)
  (func $calling-loop loop call $nop br 0 end)
  (func $recurse (param i32) local.get 0 i32.const 1 i32.add call $recurse)
  (func $tail (param i32) local.get 0 i32.const 1 i32.add return_call $tail)
  (func $fill (param i32) i32.const 0 i32.const 0 local.get 0 memory.fill)
  (func $exported-loop (export "exported-loop") loop br 0 end)
  (func (export "leaf-loop") try call $leaf-loop catch_all i32.const 1 global.set $caught end)
  (func (export "calling-loop") try call $calling-loop catch_all i32.const 1 global.set $caught end)
  (func (export "recursion") try i32.const 0 call $recurse catch_all i32.const 1 global.set $caught end)
  (func (export "tail-recursion") try i32.const 0 call $tail catch_all i32.const 1 global.set $caught end)
  (func (export "bulk") try i32.const 262144 call $fill catch_all i32.const 1 global.set $caught end)
  (func (export "exported-callee") try call $exported-loop catch_all i32.const 1 global.set $caught end)
  (func (export "same-function") try loop br 0 end catch_all i32.const 1 global.set $caught end)
  ;; retries forever if it ever catches
  (func (export "retry") loop try call $leaf-loop catch_all i32.const 1 global.set $caught br 1 end end)
  (func (export "rethrow") try try call $leaf-loop catch_all i32.const 1 global.set $caught rethrow 0 end catch_all end)
  (func (export "delegate") try try call $leaf-loop delegate 0 catch_all i32.const 1 global.set $caught end)
  ;; the host calls back into the guest (as it calls the allocator), which runs out there
  (func (export "through-host") try call $reenter catch_all i32.const 1 global.set $caught end)
  ;; the control: a JavaScript error from an import is an exception, and catch_all does catch it
  (func (export "js-error") try i32.const 1 call $js-throw drop catch_all i32.const 1 global.set $caught end))`;

test('a guest catch_all never catches out of fuel, at any kind of check, in any form of the rewrite', async () => {
  const bytes = assemble(GREEDY);
  const kinds = ['leaf-loop', 'calling-loop', 'recursion', 'tail-recursion', 'bulk', 'exported-callee', 'same-function', 'retry', 'rethrow', 'delegate', 'through-host'];
  let current;
  const imports = { js: { throw: () => { throw new Error('from the host'); }, reenter: () => current.exports['exported-loop']() } };
  for (const [label, options] of VARIANTS) {
    const { instance } = await WebAssembly.instantiate(await instrument(bytes, options), imports);
    current = instance;
    const caught = instance.exports.caught;
    for (const name of kinds) {
      // (Plain recursion overflows V8's stack before a budget of 100,000 runs out.)
      for (const budget of name === 'recursion' ? [0, 1, 2, 3, 5, 10, 1000] : [0, 1, 2, 3, 5, 10, 1000, 100_000]) {
        caught.value = 0;
        const r = call(instance, name, [], budget);
        assert.ok(r.outOfFuel, `${name} (${label}) at budget ${budget}: ${r.error ? r.error.message : 'finished'}`);
        assert.equal(r.used, budget, `${name} (${label}) at budget ${budget}`);
        assert.equal(caught.value, 0, `${name} (${label}) at budget ${budget}: the guest's catch_all ran`);
      }
    }
    caught.value = 0;
    const r = call(instance, 'js-error', [], 1000);
    assert.equal(r.error, undefined, `js-error (${label})`);
    assert.equal(caught.value, 1, `js-error (${label}): catch_all should catch a host error`);
    assert.equal(r.used, 6, `js-error (${label}): entry 1 + try const call 3, then const global.set 2`);
  }
});
