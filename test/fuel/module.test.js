// What instrumentation keeps and adds: imports/exports/names/custom sections, DWARF dropped,
// the bext_fuel export, guest names in trap stacks, and a name clash with bext_out_of_fuel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wat, wasmText } from '../helpers/wasm.js';
import { instrument, innermostWasmFrame } from '../../dist/fuel/index.js';
import { call } from './harness.js';

function customSection(name, payload) {
  const n = Buffer.from(name);
  const body = Buffer.concat([Buffer.from([n.length]), n, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0, body.length]), body]);
}

function customNames(bytes) {
  const mod = new WebAssembly.Module(bytes);
  return ['producers', '.debug_info', 'sourceMappingURL', 'name', 'bext.extra'].filter((n) => WebAssembly.Module.customSections(mod, n).length > 0);
}

const SRC = `(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (global (export "counter") (mut i32) (i32.const 0))
  (table (export "tbl") 2 funcref)
  (func $crash_here (export "crash") (param i32) (result i32)
    (call $log (local.get 0))
    (i32.div_u (i32.const 1) (local.get 0)))
  (func $bext_out_of_fuel (export "clash") unreachable))`;

test('imports, exports and custom sections are kept; DWARF and source maps are dropped', async () => {
  const base = wat(SRC);
  const input = Buffer.concat([base, customSection('producers', 'x'), customSection('.debug_info', 'dwarf'), customSection('sourceMappingURL', 'a.map'), customSection('bext.extra', 'keep')]);
  const out = await instrument(input);
  const before = new WebAssembly.Module(input);
  const after = new WebAssembly.Module(out);
  assert.deepEqual(WebAssembly.Module.imports(after), WebAssembly.Module.imports(before));
  assert.deepEqual(WebAssembly.Module.exports(after), [...WebAssembly.Module.exports(before), { name: 'bext_fuel', kind: 'global' }]);
  assert.deepEqual(customNames(out), ['producers', 'name', 'bext.extra']);
});

test('trap stacks keep guest function names; a guest function named bext_out_of_fuel is renamed', async () => {
  const out = await instrument(wat(SRC));
  const logged = [];
  const { instance } = await WebAssembly.instantiate(out, { env: { log: (v) => logged.push(v) } });
  const r = call(instance, 'crash', [0]);
  assert.match(String(r.error), /divide by zero/);
  assert.equal(innermostWasmFrame(r.error), 'crash_here');
  assert.deepEqual(logged, [0]);
  assert.equal(call(instance, 'crash', [1]).value, 1);

  const clash = call(instance, 'clash', [], 1000);
  assert.equal(innermostWasmFrame(clash.error), 'bext_out_of_fuel$guest');
  assert.equal(clash.outOfFuel, false);
});

test('instrumenting is deterministic and keeps the module valid', async () => {
  const a = await instrument(wat(SRC));
  const b = await instrument(wat(SRC));
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
  assert.ok(WebAssembly.validate(a));
});

test('clang-built kernels give the same results metered, with stable fuel', async () => {
  const { readFileSync } = await import('node:fs');
  const { ROOT } = await import('../helpers/cli.js');
  for (const [name, arg] of [['sieve', 10_000], ['matmul', 1], ['fib', 15], ['sha256', 1], ['json', 1]]) {
    const plain = readFileSync(`${ROOT}/bench/kernels/${name}.wasm`);
    const a = (await WebAssembly.instantiate(plain)).instance;
    const b = (await WebAssembly.instantiate(await instrument(plain))).instance;
    a.exports._initialize();
    assert.equal(call(b, '_initialize').error, undefined);
    const first = call(b, 'run', [arg]);
    assert.equal(first.value, a.exports.run(arg), name);
    assert.ok(first.used > 0);
    assert.equal(call(b, 'run', [arg]).used, first.used, `${name}: fuel differs between runs`);
  }
});

test('internal functions get the fuel as a param and result; exported and table functions keep their types; local names follow; only calls to functions that can trap write the global first', async () => {
  const out = await instrument(wat(`(module
    (memory 1)
    (table 1 funcref)
    (elem (i32.const 0) $in_table)
    (func $inner (param $a i32) (result i32) (local $b i32)
      local.get $a i32.const 1 i32.add local.tee $b local.get $b i32.mul)
    (func $in_table (param $x i32) (result i32) local.get $x)
    (func $trapper (param $p i32) (result i32) (local $q i32)
      local.get $p i32.load local.set $q local.get $q)
    (func (export "outer") (param i32) (result i32)
      local.get 0 call $inner local.get 0 call $trapper i32.add
      i32.const 0 call_indirect (param i32) (result i32)))`));
  const text = wasmText(out);
  const header = (name) => text.split('\n').find((l) => l.includes(`(func $${name} `)).trim();
  // The extra i64 param is unnamed; the declared local keeps its name past it.
  assert.match(header('inner'), /^\(func \$inner \(type \d+\) \(param \$a i32\) \(param i64\) \(result i32 i64\)/);
  assert.match(text, /local\.tee \$b\s+local\.get \$b\s+i32\.mul/);
  assert.match(header('in_table'), /\(param \$x i32\) \(result i32\)$/);
  // $inner cannot trap, so calling it does not write the global first; $trapper can (its load).
  const outer = text.slice(text.lastIndexOf('(func', text.indexOf('call $trapper')));
  assert.match(outer, /local\.get 0\s+local\.get \d+\s+call \$inner/);
  assert.match(outer, /global\.set \d+\s+local\.get \d+\s+call \$trapper/);
  const { instance } = await WebAssembly.instantiate(out);
  const ok = call(instance, 'outer', [3]);
  assert.equal(ok.value, 16); // (3 + 1)² + the word at address 3 (0), through the table function
  // A trap inside an internal function still names it.
  const bad = call(instance, 'outer', [70000]);
  assert.match(String(bad.error), /out of bounds/);
  assert.equal(innermostWasmFrame(bad.error), 'trapper');
});
