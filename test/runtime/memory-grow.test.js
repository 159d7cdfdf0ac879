// memory.grow is cheap because bext shares capped memories (src/runtime/shared-memory.ts): an
// unshared V8 memory starts a GC on every grow past ~64 MiB. No timing here (bench/memory-grow
// has the figures); these check the structure that makes growth cheap and that the guest sees the
// same memory.grow semantics through the real load path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wat } from '../helpers/wasm.js';
import { instrument } from '../../dist/fuel/index.js';
import { parseModule } from '../../dist/wasm/index.js';
import { shareMemories } from '../../dist/runtime/shared-memory.js';
import { load, mod } from './helpers.js';

const GROW = '(module (memory (export "memory") 2) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))';

test('a capped memory is shared with its maximum at the cap; nothing else in the module changes', async () => {
  const metered = await instrument(wat(GROW), { maxMemoryPages: 32 });
  const shared = shareMemories(metered);
  assert.deepEqual(parseModule(shared).memories, [{ min: 2, max: 32, shared: true, index64: false }]);
  assert.equal(shared.length, metered.length);
  const diff = [...shared].flatMap((b, i) => (b === metered[i] ? [] : [i]));
  assert.equal(diff.length, 1, 'only the limits flag byte differs');
  assert.deepEqual(parseModule(metered).memories[0].shared, false, 'the input is not modified');

  const { instance } = await WebAssembly.instantiate(shared);
  instance.exports.bext_fuel.value = 1_000_000n;
  assert.ok(instance.exports.memory.buffer instanceof SharedArrayBuffer);
  let pages = 2;
  while (instance.exports.grow(1) !== -1) pages++;
  assert.equal(pages, 32, 'one-page steps reach exactly the cap');
  assert.equal(instance.exports.memory.buffer.byteLength, 32 * 65536);
});

test('memories without a maximum and modules without memory are left as they are', async () => {
  for (const src of ['(module (memory 1))', '(module (func (export "f")))', '(module (memory (export "m") 1 4) (data (i32.const 0) "x"))']) {
    const bytes = wat(src);
    const out = shareMemories(bytes);
    const expected = parseModule(bytes).memories.map((m) => ({ ...m, shared: m.max !== null }));
    assert.deepEqual(parseModule(out).memories, expected, src);
  }
});

test('through loadPlugin a guest grows one page at a time to limits.max_memory_mb and no further', async (t) => {
  // Returns 0 when memory.size ends exactly at 2 MiB (32 pages) and a further grow fails, else 1.
  const src = mod(`
    (func (export "on_request_complete") (param i32 i32) (result i32)
      (block $full (loop $grow
        (br_if $full (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)))
        (br $grow)))
      (i32.and (i32.eq (memory.size) (i32.const 32)) (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (i32.eqz))`);
  const { handle } = await load(src, { limits: { max_memory_mb: 2 } });
  t.after(() => handle.close());
  const r = await handle.call({ hook: 'on_request_complete', eventJson: '{"path":"/"}' });
  assert.equal(r.outcome, 'ok', r.message);
  // The memory stays usable after growing: host writes through the allocator still land.
  const again = await handle.call({ hook: 'on_request_complete', eventJson: '{"path":"/again"}' });
  assert.equal(again.outcome, 'ok', again.message);
});
