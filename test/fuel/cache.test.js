// The on-disk cache: miss then hit, identical bytes, corrupt/truncated files rebuilt, keyed by
// input and initial fuel, and a warm hit that does no instrumentation work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { writeCached } from '../../dist/fuel/cache.js';
import { instrument, instrumentCached, INSTRUMENTER_VERSION } from '../../dist/fuel/index.js';
import { tempDir } from '../helpers/cleanup.js';

const SRC = '(module (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))';

function tmp() {
  return tempDir('bext-cache-');
}

/** The cached modules (each has its offset map beside it, in a `.offsets` file). */
function modules(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.wasm'));
}

test('miss, then hit with the same bytes as a fresh instrumentation', async () => {
  const dir = tmp();
  try {
    const input = wat(SRC);
    const first = await instrumentCached(input, dir);
    assert.equal(first.fromCache, false);
    const files = modules(dir);
    assert.equal(files.length, 1);
    assert.match(files[0], new RegExp(`^[0-9a-f]{64}-${INSTRUMENTER_VERSION}\\.wasm$`));
    assert.deepEqual(readdirSync(dir).sort(), [files[0], files[0].replace(/\.wasm$/, '.offsets')].sort(), 'the offset map sits beside the module');
    const second = await instrumentCached(input, dir);
    assert.equal(second.fromCache, true);
    assert.deepEqual(Buffer.from(second.bytes), Buffer.from(first.bytes));
    assert.deepEqual(Buffer.from(second.bytes), Buffer.from(await instrument(input)));
    assert.ok(WebAssembly.validate(second.bytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt or truncated cache file is detected and rebuilt', async () => {
  const dir = tmp();
  try {
    const input = wat(SRC);
    const fresh = await instrumentCached(input, dir);
    const file = path.join(dir, modules(dir)[0]);
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[20] ^= 0xff;
    writeFileSync(file, flipped);
    const afterFlip = await instrumentCached(input, dir);
    assert.equal(afterFlip.fromCache, false);
    assert.deepEqual(Buffer.from(afterFlip.bytes), Buffer.from(fresh.bytes));
    assert.deepEqual(readFileSync(file), good, 'the file is rewritten');

    writeFileSync(file, good.subarray(0, good.length - 7));
    assert.equal((await instrumentCached(input, dir)).fromCache, false);
    writeFileSync(file, Buffer.alloc(0));
    assert.equal((await instrumentCached(input, dir)).fromCache, false);
    assert.equal((await instrumentCached(input, dir)).fromCache, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('different inputs and initial fuel get different entries', async () => {
  const dir = tmp();
  try {
    await instrumentCached(wat(SRC), dir);
    await instrumentCached(wat(SRC.replace('i32.const 1', 'i32.const 2')), dir);
    const withFuel = await instrumentCached(wat(SRC), dir, { initialFuel: 500n });
    assert.equal(withFuel.fromCache, false);
    assert.equal(modules(dir).length, 3);
    const { instance } = await WebAssembly.instantiate(withFuel.bytes);
    assert.equal(instance.exports.bext_fuel.value, 500n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unwritable cache directory still returns instrumented bytes', async () => {
  const dir = tmp();
  try {
    const blocker = path.join(dir, 'file');
    writeFileSync(blocker, 'not a directory');
    const r = await instrumentCached(wat(SRC), path.join(blocker, 'cache'));
    assert.equal(r.fromCache, false);
    assert.ok(WebAssembly.validate(r.bytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a warm hit returns the stored bytes without instrumenting again', async () => {
  const dir = tmp();
  try {
    const input = wat(SRC);
    await instrumentCached(input, dir);
    const file = path.join(dir, modules(dir)[0]);
    // Replace the entry with a different (correctly checksummed) module: a hit must return it.
    const planted = await instrument(wat('(module (func (export "planted")))'));
    writeCached(file, planted);
    const r = await instrumentCached(input, dir);
    assert.equal(r.fromCache, true);
    assert.deepEqual(Buffer.from(r.bytes), Buffer.from(planted));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
