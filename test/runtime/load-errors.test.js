// Every load failure names what is wrong; none of them starts a worker or crashes the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../../dist/plugins/index.js';
import { load, mod, tempDir } from './helpers.js';

const dir = tempDir();

async function loadError(file, overrides = {}) {
  const plugin = { ...defaultPluginConfig(file), ...overrides };
  try {
    const h = await loadPlugin({ plugin, stateDir: path.join(dir, '.bext') });
    await h.close();
  } catch (err) {
    return err;
  }
  assert.fail(`expected ${file} to fail to load`);
}

function bytesFile(name, bytes) {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

function watError(name, text, overrides) {
  return loadError(bytesFile(name, wat(text)), overrides);
}

test('missing file and directory', async () => {
  const e1 = await loadError(path.join(dir, 'nope.wasm'));
  assert.match(e1.message, /nope\.wasm: no such file/);
  assert.equal(e1.exitCode, 2);
  const sub = path.join(dir, 'adir.wasm');
  mkdirSync(sub);
  const e2 = await loadError(sub);
  assert.match(e2.message, /not a file \(it is a directory\)/);
});

test('not wasm: random bytes and WAT text', async () => {
  const e1 = await loadError(bytesFile('text.wasm', 'hello world'));
  assert.match(e1.message, /not a WebAssembly binary: the file does not start with the "\\0asm" magic bytes/);
  const e2 = await loadError(bytesFile('wat.wasm', '(module (memory 1))'));
  assert.match(e2.message, /looks like WAT text/);
  assert.equal(e2.exitCode, 2);
});

test('truncated module names the section and offsets', async () => {
  const full = wat(mod('(func (export "on_reload"))'), { debugNames: false });
  const e = await loadError(bytesFile('trunc.wasm', full.subarray(0, full.length - 5)));
  assert.match(e.message, /truncated: the code section at offset 0x[0-9a-f]+ declares \d+ bytes but the file ends at 0x[0-9a-f]+/);
  const e2 = await loadError(bytesFile('trunc2.wasm', full.subarray(0, 6)));
  assert.match(e2.message, /truncated: the header needs 8 bytes, the file has 6/);
});

test('invalid code is reported with V8\'s reason', async () => {
  const bytes = Buffer.from(wat('(module (memory (export "memory") 1) (func (export "on_reload") i32.const 7 drop))'));
  // i32.const 7 drop end  →  i32.const 7 i32.add end (stack underflow)
  const at = bytes.indexOf(Buffer.from([0x41, 0x07, 0x1a, 0x0b]));
  assert.ok(at > 0);
  bytes[at + 2] = 0x6a;
  const e = await loadError(bytesFile('invalid.wasm', bytes));
  assert.match(e.message, /invalid\.wasm: invalid: .*(i32\.add|not enough arguments|expected 2 elements)/i);
  assert.equal(e.exitCode, 2);
});

test('unsupported features: 64-bit memory, non-core binary version', async () => {
  const mem64 = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x04, 1]);
  const e1 = await loadError(bytesFile('m64.wasm', mem64));
  assert.match(e1.message, /unsupported feature: limits flags 0x4 .*64-bit memories are not supported/);
  const component = Buffer.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]);
  const e2 = await loadError(bytesFile('comp.wasm', component));
  assert.match(e2.message, /unsupported feature: binary format version 65549 .*components are not/);
});

test('unknown bext import names it', async () => {
  const e = await watError('unk.wasm', mod('', { imports: '(import "bext" "storage_list" (func (param i32 i32) (result i64)))' }));
  assert.match(e.message, /import "bext"\."storage_list" is not part of ABI v1 \(known: log, storage_get/);
  assert.equal(e.exitCode, 2);
});

test('wrong import signature names it and the expected forms', async () => {
  const e = await watError('sig.wasm', mod('', { imports: '(import "bext" "get_config" (func (param i32) (result i32)))' }));
  assert.match(
    e.message,
    /import "bext"\."get_config" has signature \(i32\) -> i32; expected \(i32, i32\) -> i64 or \(i32, i32\) -> \(i32, i32\)/,
  );
  const e2 = await watError('sig2.wasm', mod('', { imports: '(import "bext" "log" (func (param i32 i32 i32 i32) (result i32)))' }));
  assert.match(e2.message, /"bext"\."log" has signature \(i32, i32, i32, i32\) -> i32; expected \(i32, i32, i32, i32\) -> \(\)$/);
});

test('other import modules are refused', async () => {
  const e = await watError('env.wasm', mod('', { imports: '(import "env" "abort" (func (param i32)))' }));
  assert.match(e.message, /import "env"\."abort": module "env" is not provided \(bext provides "bext" and "wasi_snapshot_preview1" only\)/);
});

test('missing memory export', async () => {
  const e = await watError('nomem.wasm', '(module (memory 1) (func (export "on_reload")))');
  assert.match(e.message, /no exported memory: export the linear memory as "memory"/);
});

test('missing allocator when an import returns data', async () => {
  const e = await watError(
    'noalloc.wasm',
    mod('', { allocator: false, imports: '(import "bext" "get_config" (func (param i32 i32) (result i64)))' }),
  );
  assert.match(e.message, /no allocator export, but the host must write results for get_config: export one of bext_alloc\(i32\)/);
  // A plugin that takes no data needs none.
  const { handle } = await load(mod('(func (export "on_reload"))', { allocator: false }));
  await handle.close();
});

test('bad hook signature lists the allowed forms', async () => {
  const e = await watError('hook.wasm', mod('(func (export "on_request_complete") (param i32))'));
  assert.match(
    e.message,
    /hook "on_request_complete" has signature \(i32\) -> \(\); expected \(i32, i32\) -> \(\) or \(i32, i32\) -> i32 or \(i32, i32\) -> i64/,
  );
  const e2 = await watError('hook2.wasm', mod('(func (export "on_reload") (result f32) f32.const 0)'));
  assert.match(e2.message, /hook "on_reload" has signature \(\) -> f32/);
});

test('several problems are all listed', async () => {
  const e = await watError(
    'many.wasm',
    '(module (import "env" "x" (func)) (import "bext" "nope" (func)) (func (export "cleanup") (param i32)))',
  );
  assert.match(e.message, /4 ABI problems:/);
  assert.equal(e.details.length, 4);
  assert.ok(e.details.some((d) => d.includes('no exported memory')));
});

test('memory minimum above limits.max_memory_mb fails the load', async () => {
  const e = await watError('big.wasm', mod('(func (export "on_reload"))', { memory: '(memory (export "memory") 100)' }), {
    limits: { max_memory_mb: 2, timeout_ms: 5000, event_queue_size: 10 },
  });
  assert.match(e.message, /memory declares a minimum of 100 pages \(6\.3 MiB\), above limits\.max_memory_mb = 2 \(32 pages\)/);
  assert.equal(e.exitCode, 2);
});

test('memory.grow past the cap returns -1 (declared max clamped, and no max)', async () => {
  const grow = '(func (export "on_reload") (result i32) (memory.grow (i32.const 15))) (func (export "cleanup") (result i32) (memory.grow (i32.const 1)))';
  for (const memory of ['(memory (export "memory") 1)', '(memory (export "memory") 1 1000)']) {
    const { handle } = await load(mod(grow, { memory }), { limits: { max_memory_mb: 1 } });
    const r1 = await handle.call({ hook: 'on_reload' });
    assert.equal(r1.message, 'on_reload returned error code 1', 'grew from 1 to 16 pages');
    const r2 = await handle.call({ hook: 'cleanup' });
    assert.equal(r2.message, 'cleanup returned error code -1', 'the 17th page is refused');
    await handle.close();
  }
});

test('inspect reports a hook that takes a string without an allocator', async () => {
  const { inspectWasm } = await import('../../dist/plugins/index.js');
  const r = inspectWasm(wat(mod('(func (export "on_request_complete") (param i32 i32))', { allocator: false })));
  assert.deepEqual(r.problems, [
    'no allocator export, but hook "on_request_complete" takes a string: export one of bext_alloc(i32), alloc(i32), malloc(i32), cabi_realloc(i32, i32, i32, i32)',
  ]);
});

test('a cached instrumented module that V8 refuses is replaced, and the plugin loads', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { writeCached } = await import('../../dist/fuel/cache.js');
  const src = mod('(func (export "on_reload") (result i32) (i32.const 7))');
  // A first load fills the cache in <stateDir>/cache.
  const first = await load(src);
  await first.handle.close();
  const cacheDir = path.join(first.stateDir, 'cache');
  const entry = readdirSync(cacheDir).find((f) => f.endsWith('.wasm'));
  assert.ok(entry, 'the first load cached the instrumented module');
  const good = readFileSync(path.join(cacheDir, entry));
  // An entry with an intact checksum whose module does not validate: what a broken rewrite
  // would have cached, now that the loader leaves validating the output to its compile.
  writeCached(path.join(cacheDir, entry), wat('(module (func (result i32) (i64.const 1)))', { check: false }));
  const handle = await loadPlugin({ plugin: first.plugin, stateDir: first.stateDir, logOutcomes: false });
  try {
    const r = await handle.call({ hook: 'on_reload' });
    assert.equal(r.message, 'on_reload returned error code 7', 'the plugin runs from a fresh rewrite');
  } finally {
    await handle.close();
  }
  assert.deepEqual(readFileSync(path.join(cacheDir, entry)), good, 'the entry is rewritten with the good module');
});
