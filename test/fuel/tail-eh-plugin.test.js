// Tail calls and exceptions through a real plugin load: `bext plugin run` on a module that uses
// return_call and try/catch gives the uninstrumented module's result with the hand-computed fuel,
// and runs out of fuel, not into its catch_all, when the budget is short. A C++ plugin built with
// -fwasm-exceptions too, where the toolchain can build one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { watFile } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';
import { skipWithout } from '../helpers/toolchains.js';
import { instrument } from '../../dist/fuel/index.js';
import { call } from './harness.js';

const FEATURES = { exceptions: true, tail_call: true };
const dir = tempDir('bext-tail-eh-plugin-');

// on_reload: sum(100) by tail recursion; the bottom throws the sum, the hook catches it and adds 7,
// returning 5057 (an i32 hook result other than 0 is reported as an error code). Fuel:
// entry 1 + try const const call 4; 100 steps of 11; the last 6; the handler const add 2 = 1113.
// on_server_stop: the exception escapes to the host.
const PLUGIN = `(module
  (tag $found (param i32))
  (memory (export "memory") 1)
  (global $handled (mut i32) (i32.const 0))
  (func $sum (param $n i32) (param $acc i32) (result i32)
    local.get $n i32.eqz if local.get $acc throw $found end
    local.get $n i32.const 1 i32.sub local.get $acc local.get $n i32.add return_call $sum)
  (func (export "on_reload") (result i32)
    try (result i32)
      i32.const 100 i32.const 0 call $sum
    catch $found
      i32.const 7 i32.add
    catch_all
      i32.const 1 global.set $handled i32.const -1
    end)
  (func (export "on_server_stop") i32.const 3 throw $found))`;

function runJson(file, hook, extra = []) {
  const r = bext(['plugin', 'run', file, hook, '--json', ...extra], { cwd: dir });
  try {
    return { ...JSON.parse(r.stdout), code: r.code };
  } catch {
    throw new Error(`no JSON from bext plugin run (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

test('bext plugin run: return_call and try/catch give the uninstrumented result, with exact fuel', async () => {
  const file = watFile(dir, 'tail-eh.wasm', PLUGIN, { features: FEATURES });
  const bytes = readFileSync(file);
  const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
  assert.equal(plain.on_reload(), 5057);

  const r = runJson(file, 'on_reload');
  assert.equal(r.outcome, 'error');
  assert.equal(r.message, `on_reload returned error code ${plain.on_reload()}`);
  assert.equal(r.fuelUsed, 1113);

  // The same fuel as the instrumented module run directly by the fuel protocol.
  const { instance } = await WebAssembly.instantiate(await instrument(bytes));
  assert.equal(call(instance, 'on_reload').used, 1113);

  // An exception the guest does not catch ends the call like a trap would, with its fuel counted.
  let thrown;
  try {
    plain.on_server_stop();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof WebAssembly.Exception);
  const s = runJson(file, 'on_server_stop');
  assert.equal(s.outcome, 'trap');
  assert.match(s.message, /uncaught exception/);
  assert.equal(s.fuelUsed, 3, 'entry 1 + const throw 2');
});

test('bext plugin run: a short budget runs out of fuel inside the try, and the catch_all does not run', () => {
  const file = watFile(dir, 'tail-eh-short.wasm', PLUGIN, { features: FEATURES });
  for (const budget of [4, 1106]) {
    const r = runJson(file, 'on_reload', ['--fuel', String(budget)]);
    assert.equal(r.outcome, 'out_of_fuel', `budget ${budget}: ${JSON.stringify(r)}`);
    assert.equal(r.fuelUsed, budget);
  }
  // The last check is the last $sum's entry, with 1106 charged: 1107 passes it, and the call
  // finishes, overdrawing its budget after its last check as wasmtime allows.
  const r = runJson(file, 'on_reload', ['--fuel', '1107']);
  assert.equal(r.message, 'on_reload returned error code 5057');
  assert.equal(r.fuelUsed, 1107);
});

// C++ with -fwasm-exceptions needs libc++ and libc++abi built for wasm32-wasi with exceptions (and
// wasm's unwinder). Debian packages neither: its libc++abi-*-dev-wasm32 is built without
// exceptions, so on Debian this test skips, saying so; .ci/run allows that one skip.
const CXX_SOURCE = `
extern "C" {
__attribute__((export_name("on_reload"))) int on_reload(void);
}
static int depth(int n) {
  if (n == 0) throw 40;
  return depth(n - 1) + 1;
}
int on_reload(void) {
  try {
    return depth(5);
  } catch (int e) {
    return e + 2;
  }
}
`;

function buildCxx() {
  const noClang = skipWithout('c');
  if (noClang) return { skip: noClang };
  const out = path.join(dir, 'cxx-eh.wasm');
  const clang = process.env.CLANG ?? 'clang';
  const r = spawnSync(clang, ['--driver-mode=g++', '--target=wasm32-wasi', '-fwasm-exceptions', '-O2', '-mexec-model=reactor', '-x', 'c++', '-', '-o', out], {
    input: CXX_SOURCE, encoding: 'utf8',
  });
  if (r.status !== 0) {
    const why = (r.stderr || String(r.error)).trim().split('\n')[0];
    return { skip: `no C++ exception runtime for wasm32-wasi here (libc++ and libc++abi built with -fwasm-exceptions; Debian's are built without exceptions): ${why}` };
  }
  return { out };
}

const cxx = buildCxx();

test('a C++ plugin built with -fwasm-exceptions runs metered as it runs plain', { skip: cxx.skip ?? false }, async () => {
  const bytes = readFileSync(cxx.out);
  const wasi = { wasi_snapshot_preview1: new Proxy({}, { get: () => () => 0 }) };
  const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), wasi).exports;
  plain._initialize?.();
  const expected = plain.on_reload();
  assert.equal(expected, 42);
  const r = runJson(cxx.out, 'on_reload');
  assert.equal(r.message, `on_reload returned error code ${expected}`);
});
