// `bext plugin instrument`: writes a runnable metered module; every kind of bad input exits 2
// with a message naming the kind. Two bad inputs (a missing file, a truncated module: the command's
// own check and the binary reader's) go through the CLI; the other kinds through the command's
// run() in this process, which throws the error main prints (exit 2, the message first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';
import { run as instrumentCommand } from '../../dist/cli/commands/instrument.js';
import { instrument } from '../../dist/fuel/index.js';

const dir = tempDir('bext-instr-cli-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name, bytes) {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function watWith(options, name, source) {
  return file(`${name}.wasm`, wat(source, options));
}

test('writes a metered module that any engine can run with the bext_fuel protocol', async () => {
  const input = file('ok.wasm', wat('(module (func $double (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))'));
  const output = path.join(dir, 'ok.out.wasm');
  const r = bext(['plugin', 'instrument', input, '-o', output, '--fuel', '1_000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*ok\.out\.wasm/);
  const { instance } = await WebAssembly.instantiate(readFileSync(output));
  assert.equal(instance.exports.bext_fuel.value, 1000n);
  assert.equal(instance.exports.double(21), 42);
  assert.equal(instance.exports.bext_fuel.value, 1000n - 4n);
});

const cases = [
  ['not a file (missing)', () => path.join(dir, 'missing.wasm'), /not a file/],
  ['not a file (directory)', () => { const d = path.join(dir, 'adir'); mkdirSync(d, { recursive: true }); return d; }, /not a file/],
  ['not wasm', () => file('text.wasm', 'hello, world\n'), /not a WebAssembly module/],
  ['empty file', () => file('empty.wasm', Buffer.alloc(0)), /not a WebAssembly module/],
  ['truncated', () => file('trunc.wasm', wat('(module (func (export "f") (result i32) (i32.const 7)))').subarray(0, 30)), /truncated/],
  ['invalid', () => watWith({ check: false }, 'invalid', '(module (func (export "f") (result i32) (i64.const 1)))'), /invalid WebAssembly/],
  ['unsupported: threads', () => watWith({ features: { threads: true } }, 'threads', '(module (memory 1 1 shared))'), /unsupported feature: threads/],
  // Node 20 runs the legacy exception-handling instructions, not exnref's try_table/throw_ref.
  ['unsupported: exnref exceptions', () => file('exnref.wasm', Uint8Array.of(
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
    0x03, 0x02, 0x01, 0x00, // func 0: type 0
    0x0a, 0x08, 0x01, 0x06, 0x00, 0x1f, 0x40, 0x00, 0x0b, 0x0b, // try_table (no catches) end end
  )), /unsupported feature: exception handling with exnref/],
  ['unsupported: memory64', () => watWith({ features: { memory64: true } }, 'm64', '(module (memory i64 1))'), /unsupported feature: memory64/],
  // What `bext plugin instrument` wrote for `(module)` (the same instrument() call).
  ['already instrumented', async () => file('twice.wasm', await instrument(wat('(module)'), { initialFuel: 0n })), /already exports `bext_fuel`/],
];

const THROUGH_THE_CLI = new Set(['not a file (missing)', 'truncated']);

for (const [label, make, pattern] of cases) {
  test(`bad input exits 2: ${label}`, async () => {
    const input = await make();
    const output = path.join(dir, 'never.wasm');
    if (THROUGH_THE_CLI.has(label)) {
      const r = bext(['plugin', 'instrument', input, '-o', output]);
      assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0], pattern);
      return;
    }
    await assert.rejects(instrumentCommand(input, { output }), (err) => {
      assert.equal(err.exitCode, 2, err.stack);
      assert.match(`bext: ${err.message}`.split('\n')[0], pattern);
      return true;
    });
  });
}

test('a bad --fuel value exits 2', () => {
  const input = file('ok2.wasm', wat('(module)'));
  const r = bext(['plugin', 'instrument', input, '-o', path.join(dir, 'x.wasm'), '--fuel', '-5']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--fuel/);
});
