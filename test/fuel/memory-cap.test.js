// The memory cap is applied by the instrumenting rewrite itself (InstrumentOptions.maxMemoryPages),
// and the cache keys on it: a different cap never reuses another cap's module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { instrument, instrumentCached } from '../../dist/fuel/index.js';
import { parseModule, WasmFormatError } from '../../dist/wasm/index.js';

const SRC = '(module (memory (export "memory") 2 100) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))';

test('the cap lowers the declared maximum, and memory.grow past it fails', async () => {
  const out = await instrument(wat(SRC), { maxMemoryPages: 5 });
  assert.deepEqual(parseModule(out).memories, [{ min: 2, max: 5, shared: false, index64: false }]);
  const { instance } = await WebAssembly.instantiate(out);
  instance.exports.bext_fuel.value = 1_000_000n;
  assert.equal(instance.exports.grow(3), 2);
  assert.equal(instance.exports.grow(1), -1);
  const unbounded = await instrument(wat('(module (memory 1))'), { maxMemoryPages: 7 });
  assert.deepEqual(parseModule(unbounded).memories[0], { min: 1, max: 7, shared: false, index64: false });
  const kept = await instrument(wat(SRC));
  assert.deepEqual(parseModule(kept).memories[0], { min: 2, max: 100, shared: false, index64: false });
});

test('a minimum above the cap is refused as invalid input', async () => {
  await assert.rejects(instrument(wat(SRC), { maxMemoryPages: 1 }), (e) => e instanceof WasmFormatError && e.kind === 'invalid' && /minimum of 2 pages/.test(e.message));
});

test('the cache keeps one file per cap', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-cap-'));
  try {
    const input = wat(SRC);
    const a = await instrumentCached(input, dir, { maxMemoryPages: 5 });
    const b = await instrumentCached(input, dir, { maxMemoryPages: 6 });
    assert.equal(a.fromCache, false);
    assert.equal(b.fromCache, false);
    assert.equal(parseModule(b.bytes).memories[0].max, 6);
    assert.equal((await instrumentCached(input, dir, { maxMemoryPages: 5 })).fromCache, true);
    assert.equal((await instrumentCached(input, dir)).fromCache, false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.wasm')).map((f) => f.replace(/^[0-9a-f]{64}-\w+/, '')).sort(), ['-m5.wasm', '-m6.wasm', '.wasm']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a module info parsed by the caller gives the same output as parsing inside', async () => {
  const input = wat(SRC);
  const own = await instrument(input, { maxMemoryPages: 9 });
  const reused = await instrument(input, { maxMemoryPages: 9, module: parseModule(input) });
  assert.deepEqual(Buffer.from(reused), Buffer.from(own));
});
