// The instrumenter's offset map: frames of the metered module map back onto the input's code
// offsets, the ones wabt, wasm-objdump and DWARF use. The expected offsets come from wabt's own
// binary log of the fixture, so no native toolchain is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { watWithOffsets } from '../helpers/wasm.js';
import { inputOffset, instrumentCached, instrumentMapped, initialFuelFor, offsetMapEntries } from '../../dist/fuel/index.js';
import { decodeOffsetMap, encodeOffsetMap, OffsetMapBuilder } from '../../dist/fuel/offset-map.js';
import { rawFrames } from '../../dist/runtime/traps.js';

const SOURCE = readFileSync(path.join(ROOT, 'test/fixtures/debug/offsets.wat'), 'utf8');

/** The module and where wabt wrote each instruction. */
const build = () => watWithOffsets(SOURCE);

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
  const { bytes, at } = build();
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
  const { bytes, at } = build();
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
    const { bytes, at } = build();
    const [load] = at('i32.load');
    const first = await instrumentCached(bytes, dir);
    const frames = await trapOf(first.bytes, 'crash');
    assert.equal(inputOffset(first.offsets(), frames[0].offset), load);
    const warm = await instrumentCached(bytes, dir);
    assert.equal(warm.fromCache, true);
    assert.deepEqual(offsetMapEntries(warm.offsets()), offsetMapEntries(first.offsets()));
    for (const f of (await import('node:fs')).readdirSync(dir)) if (f.endsWith('.offsets')) rmSync(path.join(dir, f));
    const again = await instrumentCached(bytes, dir);
    assert.equal(again.fromCache, true);
    assert.equal(inputOffset(again.offsets(), frames[0].offset), load, 'rebuilt from the input');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The compact form against plain arrays: many bodies of random stretches (copied, inserted, a few
// ends), over several blocks and stream chunks, looked up at every kind of offset and read back
// from its encoded bytes.
test('the compact map answers every lookup as the plain stretch list does, and survives its encoding', () => {
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const EXACT = 0x80000000;
  const NOT_GUEST = 0xffffffff;
  const b = new OffsetMapBuilder();
  const plain = []; // [out, input] with the shift applied later
  let at = 0;
  let inputAt = 100;
  for (let body = 0; body < 10000; body++) {
    b.beginBody();
    const local = [];
    let o = 0;
    const stretches = 1 + rand(200);
    for (let k = 0; k < stretches; k++) {
      const len = 1 + rand(40);
      if (rand(3) === 0) {
        // Inserted before an input instruction (may point back a little, or far ahead), sometimes
        // the same one as the stretch before (several edits at one instruction), which continues it.
        const prev = local[local.length - 1];
        const target = prev && prev[1] >= EXACT && prev[1] !== NOT_GUEST && rand(3) === 0 ? prev[1] - EXACT : inputAt + rand(5000);
        b.inserted(o, target);
        if (!(prev && prev[1] === (target | EXACT) >>> 0)) local.push([o, (target | EXACT) >>> 0]);
      } else {
        b.copied(o, inputAt);
        // A copy continuing the previous one adds no stretch.
        const prev = local[local.length - 1];
        const continues = prev && prev[1] < EXACT && o - prev[0] === inputAt - prev[1];
        if (!continues) local.push([o, inputAt]);
        // Mostly a gap after it (an instruction the rewriter dropped or rewrote), so the next copy
        // starts a stretch of its own.
        inputAt += len + (rand(4) === 0 ? 0 : 1 + rand(3));
      }
      o += len;
    }
    b.placeBody(at);
    for (const [lo, li] of local) plain.push([lo + at, li]);
    at += o + rand(3);
    if (rand(500) === 0) {
      b.end(at);
      plain.push([at, NOT_GUEST]);
      at += 10;
    }
  }
  b.end(at);
  plain.push([at, NOT_GUEST]);
  const shift = 77;
  const map = b.finish(shift);
  assert.ok(map.stream.length >= 2, `several stream chunks (${map.stream.length} for ${map.count} stretches)`);
  assert.equal(map.count, plain.length);
  const entries = offsetMapEntries(map);
  assert.deepEqual([...entries.out], plain.map((p) => p[0] + shift));
  assert.deepEqual([...entries.input], plain.map((p) => p[1]));
  const expect = (off) => {
    let lo = -1;
    for (let i = 0; i < plain.length && plain[i][0] + shift <= off; i++) lo = i;
    if (lo < 0) return undefined;
    const v = plain[lo][1];
    if (v === NOT_GUEST) return undefined;
    return v >= EXACT ? v - EXACT : v + (off - plain[lo][0] - shift);
  };
  const encoded = encodeOffsetMap(map);
  const file = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0));
  let w = 0;
  for (const p of encoded) {
    file.set(p, w);
    w += p.length;
  }
  const back = decodeOffsetMap(file);
  assert.ok(back);
  // Probes: every stretch's start and the byte before it, and random offsets.
  const probes = [0, shift - 1, shift, at + shift + 5];
  for (let i = 0; i < plain.length; i += 7) probes.push(plain[i][0] + shift, plain[i][0] + shift - 1, plain[i][0] + shift + 1);
  for (let i = 0; i < 2000; i++) probes.push(rand(at + shift + 20));
  // The reference is a linear scan: sort the probes once and walk.
  const sorted = [...new Set(probes)].sort((x, y) => x - y);
  let k = -1;
  for (const off of sorted) {
    while (k + 1 < plain.length && plain[k + 1][0] + shift <= off) k++;
    let want;
    if (k >= 0) {
      const v = plain[k][1];
      want = v === NOT_GUEST ? undefined : v >= EXACT ? v - EXACT : v + (off - plain[k][0] - shift);
    }
    assert.equal(inputOffset(map, off), want, `offset ${off}`);
    assert.equal(inputOffset(back, off), want, `offset ${off}, read back`);
  }
  assert.equal(expect(plain[5][0] + shift), inputOffset(map, plain[5][0] + shift));
  // A damaged or cut file is refused or still answers without reading past its bytes.
  assert.equal(decodeOffsetMap(file.subarray(0, file.length - 1)), undefined);
  const flipped = file.slice();
  flipped[flipped.length - 1] |= 0x80;
  const damaged = decodeOffsetMap(flipped);
  for (const off of sorted.slice(-50)) inputOffset(damaged, off);
});
