// The instrumenter's offset map: frames of the metered module map back onto the input's code
// offsets, the ones wabt, wasm-objdump and DWARF use. The expected offsets come from wabt's own
// binary log of the fixture, so no native toolchain is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import initWabt from 'wabt';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { inputOffset, instrumentCached, instrumentMapped, initialFuelFor } from '../../dist/fuel/index.js';
import { rawFrames } from '../../dist/runtime/traps.js';

const SOURCE = readFileSync(path.join(ROOT, 'test/fixtures/debug/offsets.wat'), 'utf8');

/** The module and wabt's log of where each instruction was written. */
async function build() {
  const wabt = await initWabt();
  const m = wabt.parseWat('offsets.wat', SOURCE, {});
  try {
    m.resolveNames();
    m.validate();
    const { buffer, log } = m.toBinary({ log: true, write_debug_names: true });
    // Log lines look like `000002c: 28     ; i32.load`.
    const at = (what) => log.split('\n').filter((l) => l.endsWith(`; ${what}`)).map((l) => parseInt(l, 16));
    return { bytes: new Uint8Array(buffer), at };
  } finally {
    m.destroy();
  }
}

async function trapOf(bytes, fn, fuel = 1_000_000) {
  const { instance } = await WebAssembly.instantiate(bytes);
  instance.exports.bext_fuel.value = initialFuelFor(fuel);
  try {
    instance.exports[fn]();
  } catch (err) {
    return rawFrames(err.stack);
  }
  throw new Error(`${fn} did not trap`);
}

test('an out-of-bounds load and the calls above it map to their offsets in the input', async () => {
  const { bytes, at } = await build();
  const [load] = at('i32.load');
  const calls = at('call');
  assert.equal(calls.length, 2);
  const { bytes: metered, offsets } = await instrumentMapped(bytes);
  const frames = await trapOf(metered, 'crash');
  assert.deepEqual(frames.map((f) => f.func), [0, 1, 2], 'load ← middle ← crash');
  assert.notEqual(frames[0].offset, load, 'the metered module has moved the code (or this test proves nothing)');
  assert.deepEqual(frames.map((f) => inputOffset(offsets, f.offset)), [load, calls[0], calls[1]]);
});

test('a frame in code bext inserted maps onto the guest instruction it guards', async () => {
  const { bytes, at } = await build();
  const [loop] = at('loop');
  const { bytes: metered, offsets } = await instrumentMapped(bytes);
  const frames = await trapOf(metered, 'spin', 1000);
  assert.equal(frames[0].name, 'bext_out_of_fuel');
  assert.equal(inputOffset(offsets, frames[0].offset), undefined, "bext's own function is not in the map");
  const spin = frames[1];
  assert.equal(spin.func, 3);
  // The check of a loop without calls leaves for a landing at the end of its function (see
  // src/fuel/body.ts), so the frame may map to the function's final `end`: inside `spin` either way.
  const mapped = inputOffset(offsets, spin.offset);
  const ends = at('end');
  const fnEnd = ends[ends.length - 1];
  assert.ok(mapped >= loop && mapped <= fnEnd, `mapped to 0x${mapped?.toString(16)}, spin's loop is 0x${loop.toString(16)}..0x${fnEnd.toString(16)}`);
});

test('the map is cached beside the module and rebuilt when its file is gone', async () => {
  const dir = tempDir('bext-offsets-');
  try {
    const { bytes, at } = await build();
    const [load] = at('i32.load');
    const first = await instrumentCached(bytes, dir);
    const frames = await trapOf(first.bytes, 'crash');
    assert.equal(inputOffset(first.offsets(), frames[0].offset), load);
    const warm = await instrumentCached(bytes, dir);
    assert.equal(warm.fromCache, true);
    assert.deepEqual(warm.offsets(), first.offsets());
    for (const f of (await import('node:fs')).readdirSync(dir)) if (f.endsWith('.offsets')) rmSync(path.join(dir, f));
    const again = await instrumentCached(bytes, dir);
    assert.equal(again.fromCache, true);
    assert.equal(inputOffset(again.offsets(), frames[0].offset), load, 'rebuilt from the input');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
