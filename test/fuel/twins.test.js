// Twins of self-recursive functions (src/fuel/twins.ts, docs/fuel.md "Deep recursion and the
// stack's cache-line offset"): which functions get one, that fuel stays exactly what it was, and that
// traps inside a twin read as traps in the original, at the original module's offsets. Twins are
// an option (off by default: docs/fuel.md, "Deep recursion"), so these tests ask for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { wat, watWithOffsets } from '../helpers/wasm.js';
import { ROOT } from '../helpers/cli.js';
import { initialFuelFor, instrument, instrumentMapped } from '../../dist/fuel/index.js';
import { MAX_TWIN_BODY_BYTES } from '../../dist/fuel/twins.js';
import { parseModule, readFunctionNames } from '../../dist/wasm/index.js';
import { rawFrames } from '../../dist/runtime/traps.js';
import { createSymbolizer, shownStack } from '../../dist/runtime/frames/symbolize.js';

const TWINS = { twins: true };

// $rec: internal and calls itself (gets a twin). $even/$odd: mutual recursion only (no twin).
// $leaf: no recursion. $exported: self-recursive but exported (keeps its signature: no twin).
// $tabled: self-recursive but in a table (no twin). $tail: recurses by return_call only (no twin).
const KINDS = `(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (elem (i32.const 0) $tabled)
  (func $rec (param $n i32) (param $acc i32) (result i32)
    (local $t i32)
    (local.set $t (i32.add (local.get $acc) (local.get $n)))
    (if (result i32) (local.get $n)
      (then (call $rec (i32.sub (local.get $n) (i32.const 1)) (local.get $t)))
      (else (i32.div_u (local.get $t) (i32.load (i32.const 0))))))
  (func $even (param i32) (result i32)
    (if (result i32) (local.get 0) (then (call $odd (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 1))))
  (func $odd (param i32) (result i32)
    (if (result i32) (local.get 0) (then (call $even (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0))))
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $exported (export "exported") (param i32) (result i32)
    (if (result i32) (local.get 0) (then (i32.add (call $exported (i32.sub (local.get 0) (i32.const 1))) (i32.const 2))) (else (i32.const 0))))
  (func $tabled (param i32) (result i32)
    (if (result i32) (local.get 0) (then (call $tabled (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 7))))
  (func $tail (param i32) (result i32)
    (if (result i32) (local.get 0) (then (return_call $tail (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 5))))
  (func (export "run") (param $n i32) (result i32)
    (i32.add (i32.add (call $rec (local.get $n) (i32.const 0)) (call $even (local.get $n)))
      (i32.add (call $leaf (local.get $n)) (call $tail (local.get $n))))))`;

const kinds = () => wat(KINDS, { features: { tail_call: true } });

function fuelOf(bytes, name, args, budget = 1n << 40n) {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  // $rec divides by this at the bottom of its recursion.
  new Uint32Array(instance.exports.memory.buffer)[0] = 1;
  // (The input module, which has no counter, runs for its results only.)
  if (instance.exports.bext_fuel) instance.exports.bext_fuel.value = initialFuelFor(Number(budget));
  let result;
  let trap;
  try {
    result = instance.exports[name](...args);
  } catch (err) {
    trap = err.message;
  }
  return { result, trap, remaining: instance.exports.bext_fuel?.value };
}

test('by default no function gets a twin: a self-recursive function keeps calling itself', async () => {
  const input = kinds();
  const before = parseModule(input);
  const out = await instrument(input);
  // + bext_out_of_fuel only
  assert.equal(parseModule(out).functionTypes.length, before.functionTypes.length + 1);
  const ack = new Uint8Array(readFileSync(path.join(ROOT, 'bench/kernels/ackermann.wasm')));
  assert.equal(parseModule(await instrument(ack)).functionTypes.length, parseModule(ack).functionTypes.length + 1);
  // The default build is the twinned one without its twins: the same results and the same fuel.
  const twinned = await instrument(input, TWINS);
  for (const n of [0, 3, 257]) assert.deepEqual(fuelOf(out, 'run', [n]), fuelOf(twinned, 'run', [n]), `n = ${n}`);
});

test('only an internal function that calls itself gets a twin, appended after every other function', async () => {
  const input = kinds();
  const before = parseModule(input);
  const out = await instrument(input, TWINS);
  const after = parseModule(out);
  const defined = before.functionTypes.length;
  // + bext_out_of_fuel + one twin ($rec's)
  assert.equal(after.functionTypes.length, defined + 2);
  const names = readFunctionNames(out, after);
  assert.equal(names[defined], 'bext_out_of_fuel');
  assert.equal(names[defined + 1], 'rec', "the twin has the original's name");
  // Its type: $rec's threaded type (fuel as the last param and result) with one more i64 param.
  assert.deepEqual(after.types[after.functionTypes[defined + 1]], { params: ['i32', 'i32', 'i64', 'i64'], results: ['i32', 'i64'] });
  assert.deepEqual(after.types[after.functionTypes[0]], { params: ['i32', 'i32', 'i64'], results: ['i32', 'i64'] });
  // Exports keep pointing at the originals, and no index moved: the same results as the input.
  assert.deepEqual(after.exports.filter((e) => e.kind === 'function'), before.exports.filter((e) => e.kind === 'function'));
  for (const [name, arg] of [['run', 5], ['exported', 4]]) {
    const plain = fuelOf(input, name, [arg]).result;
    assert.equal(fuelOf(out, name, [arg]).result, plain, name);
  }
});

test('a self-recursive function meters exactly the fuel it did before it had a twin', async () => {
  const input = kinds();
  const twinned = await instrument(input, TWINS);
  // The same rewrite without threading (no twins) and without moved charges: the references the
  // exactness tests use.
  const refs = [await instrument(input, { threadFuel: false }), await instrument(input, { moveCharges: false, threadFuel: false })];
  const costOf = (bytes, n) => (1n << 40n) - fuelOf(bytes, 'run', [n]).remaining;
  for (const n of [0, 1, 2, 3, 10, 257]) {
    const want = costOf(refs[0], n);
    assert.equal(costOf(refs[1], n), want, `references agree for n = ${n}`);
    assert.equal(costOf(twinned, n), want, `n = ${n}`);
  }
  // Every budget around the point where it runs out: same outcome, same fuel left.
  const full = costOf(refs[0], 6);
  for (let budget = 0n; budget <= full + 2n; budget++) {
    const want = fuelOf(refs[0], 'run', [6], budget);
    const got = fuelOf(twinned, 'run', [6], budget);
    assert.deepEqual(got, want, `budget ${budget}`);
  }
});

test('the bench kernels with recursion meter the same fuel with twins as without', async () => {
  for (const [file, arg] of [['ackermann.wasm', 40], ['fib.wasm', 15], ['json.wasm', 1]]) {
    const bytes = new Uint8Array(readFileSync(path.join(ROOT, 'bench/kernels', file)));
    const twinned = await instrument(bytes, TWINS);
    const ref = await instrument(bytes, { threadFuel: false });
    assert.ok(parseModule(twinned).functionTypes.length >= parseModule(ref).functionTypes.length, file);
    const run = (b) => {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(b), {});
      instance.exports.bext_fuel.value = initialFuelFor(Number.MAX_SAFE_INTEGER);
      instance.exports._initialize?.();
      instance.exports.bext_fuel.value = initialFuelFor(Number.MAX_SAFE_INTEGER);
      const result = instance.exports.run(arg);
      return { result, used: BigInt(Number.MAX_SAFE_INTEGER) - instance.exports.bext_fuel.value };
    };
    assert.deepEqual(run(twinned), run(ref), file);
  }
  // ackermann's `ack` does get a twin (the point of the exercise).
  const ack = new Uint8Array(readFileSync(path.join(ROOT, 'bench/kernels/ackermann.wasm')));
  const before = parseModule(ack).functionTypes.length;
  assert.equal(parseModule(await instrument(ack, TWINS)).functionTypes.length, before + 1 + 2, 'bext_out_of_fuel and twins of ack and ack_counted');
});

const TRAP_IN_TWIN = `(module
  (memory 1)
  (func $helper (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $deep (param $n i32) (param $p i32) (result i32)
    (local $x i32)
    (local.set $x (call $helper (local.get $p)))
    (if (result i32) (local.get $n)
      (then (i32.add (call $deep (i32.sub (local.get $n) (i32.const 1)) (local.get $x)) (i32.const 1)))
      (else (i32.load offset=70000 (local.get $x)))))
  (func (export "crash") (param $n i32) (result i32)
    (call $deep (local.get $n) (i32.const 4))))`;

async function trapFrames(bytes, n) {
  const { instance } = await WebAssembly.instantiate(bytes);
  instance.exports.bext_fuel.value = initialFuelFor(1_000_000);
  try {
    instance.exports.crash(n);
  } catch (err) {
    return rawFrames(err.stack);
  }
  throw new Error('crash did not trap');
}

test('a trap inside the twin, two levels deep, names the original function at the original offsets', async () => {
  const { bytes, at } = watWithOffsets(TRAP_IN_TWIN);
  const [load] = at('i32.load');
  const calls = at('call');
  // calls: $deep → $helper, $deep → $deep, crash → $deep
  assert.equal(calls.length, 3);
  const module = parseModule(bytes);
  const { bytes: metered, offsets } = await instrumentMapped(bytes, TWINS);
  const twin = parseModule(metered).functionTypes.length - 1;
  assert.equal(twin, module.functionTypes.length + 1, 'the twin comes after bext_out_of_fuel');
  const symbolize = createSymbolizer({ bytes, module, offsets: () => offsets });

  // crash(1): crash → deep (original) → deep (twin), which traps.
  const raw = await trapFrames(metered, 1);
  assert.deepEqual(raw.map((f) => f.func), [twin, 1, 2], 'the trap is in the twin, called from the original');
  assert.deepEqual(raw.map((f) => f.name), ['deep', 'deep', undefined], 'V8 names the twin after the original');
  const frames = symbolize(raw);
  assert.deepEqual(frames.map((f) => f.func), [1, 1, 2]);
  assert.deepEqual(frames.map((f) => f.name), ['deep', 'deep', 'crash']);
  assert.deepEqual(frames.map((f) => f.offset), [load, calls[1], calls[2]]);
  assert.ok(frames.every((f) => !f.bext));

  // crash(2): the twin in the middle of the stack, its call to the original mapped too.
  const deeper = symbolize(await trapFrames(metered, 2));
  assert.deepEqual(deeper.map((f) => [f.func, f.name, f.offset]), [[1, 'deep', load], [1, 'deep', calls[1]], [1, 'deep', calls[1]], [2, 'crash', calls[2]]]);
  // The recursion, alternating between the two copies, still folds into one line.
  const hex = (n) => `0x${n.toString(16)}`;
  assert.deepEqual(shownStack(deeper, false).map((r) => r.text), [`deep @ ${hex(load)}`, `deep @ ${hex(calls[1])} (×2)`, `crash @ ${hex(calls[2])}`]);

  // Without a name section, the twin's frame still reads as the original's index.
  const stripped = wat(TRAP_IN_TWIN, { debugNames: false });
  const s = await instrumentMapped(stripped, TWINS);
  const strippedFrames = createSymbolizer({ bytes: stripped, module: parseModule(stripped), offsets: () => s.offsets })(await trapFrames(s.bytes, 1));
  assert.deepEqual(strippedFrames.map((f) => f.name), ['wasm-function[1]', 'wasm-function[1]', 'crash']);
});

test('the twin gets its original local names, moved past its extra param', async () => {
  const out = await instrument(wat(TRAP_IN_TWIN), TWINS);
  const { wasmText } = await import('../helpers/wasm.js');
  const text = wasmText(out);
  // The original: $n $p, then the fuel, then $x; the twin (which wasm2wat calls $deep.1, as two
  // functions share the name): $n $p, the fuel and its extra param, then $x.
  assert.match(text, /\(func \$deep \(type \d+\) \(param \$n i32\) \(param \$p i32\) \(param i64\) \(result i32 i64\)\s*\(local \$x i32\)/);
  assert.match(text, /\(func \$deep\.1 \(type \d+\) \(param \$n i32\) \(param \$p i32\) \(param i64 i64\) \(result i32 i64\)\s*\(local \$x i32\)/);
});

test('big bodies get no twin; many self-recursive functions each get one', async () => {
  // A body just over the cap: a long run of adds before the recursion.
  const adds = '(local.set $a (i32.add (local.get $a) (i32.const 1000)))\n'.repeat(Math.ceil(MAX_TWIN_BODY_BYTES / 8));
  const big = wat(`(module
    (func $big (param $a i32) (result i32)
      ${adds}
      (if (result i32) (i32.lt_u (local.get $a) (i32.const 1)) (then (call $big (local.get $a))) (else (local.get $a))))
    (func (export "run") (param i32) (result i32) (call $big (local.get 0))))`);
  assert.equal(parseModule(await instrument(big, TWINS)).functionTypes.length, 3, 'no twin for a body over the cap');

  // 100 self-recursive functions: with their twins the code section's function count needs a
  // second LEB128 byte, which moves every body (and every offset in the map).
  const n = 100;
  let src = '(module (memory 1)\n';
  for (let i = 0; i < n; i++) {
    src += `(func $r${i} (param $n i32) (param $p i32) (result i32)
      (if (result i32) (local.get $n)
        (then (i32.add (call $r${i} (i32.sub (local.get $n) (i32.const 1)) (local.get $p)) (i32.const ${i})))
        (else (i32.load (local.get $p)))))\n`;
  }
  src += '(func (export "sum") (param i32) (result i32) (local $s i32)\n';
  for (let i = 0; i < n - 1; i++) src += `(local.set $s (i32.add (local.get $s) (call $r${i} (local.get 0) (i32.const 0))))\n`;
  src += `(local.get $s))\n(func (export "crash") (param i32) (result i32) (call $r${n - 1} (local.get 0) (i32.const 70000))))`;
  const bytes = wat(src);
  const module = parseModule(bytes);
  assert.ok(module.functionTypes.length + 1 < 128 && module.functionTypes.length + 1 + n >= 128);
  const { bytes: metered, offsets } = await instrumentMapped(bytes, TWINS);
  assert.equal(parseModule(metered).functionTypes.length, module.functionTypes.length + 1 + n);
  const plain = (await WebAssembly.instantiate(bytes)).instance;
  const { instance } = await WebAssembly.instantiate(metered);
  instance.exports.bext_fuel.value = 1n << 40n;
  assert.equal(instance.exports.sum(3), plain.exports.sum(3));
  // crash(3): four levels of $r99, the last in its twin, which traps at its load.
  const raw = await trapFrames(metered, 3);
  assert.ok(raw[0].func >= module.functionTypes.length, 'the trap is in a twin');
  const symbolize = createSymbolizer({ bytes, module, offsets: () => offsets });
  const frames = symbolize(raw);
  // crash(0): the same load, in the original.
  const inOriginal = symbolize(await trapFrames(metered, 0));
  assert.deepEqual(frames[0], inOriginal[0]);
  assert.deepEqual([frames[0].func, frames[0].name], [n - 1, `r${n - 1}`]);
  assert.equal(bytes[frames[0].offset], 0x28, 'the i32.load in the input');
});
