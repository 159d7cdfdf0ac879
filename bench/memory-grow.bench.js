// memory.grow cost: a guest grows its memory one 64 KiB page at a time up to the cap. Plain V8
// (the module instantiated on this thread, memory unshared as written, and shared) is printed
// beside bext's load path (loadPlugin → worker → on_request_complete, memory capped by
// limits.max_memory_mb). bext shares capped memories so V8 does not start a GC on every grow
// (src/runtime/shared-memory.ts; docs/abi.md, "Limits").
// Run: `node bench/memory-grow.bench.js` after `npm run build`. BENCH_QUICK=1 stops at 256 MiB;
// plain V8 with an unshared memory runs up to 256 MiB unless BENCH_FULL=1 (1 GiB takes 15-40 s).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { wat } from '../test/helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../dist/plugins/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const FULL = process.env.BENCH_FULL === '1';
const SIZES_MB = QUICK ? [64, 256] : [64, 256, 1024];
const PAGES_PER_MB = 16;

// Grows by one page until memory.grow fails (the cap); returns 0 so the call counts as ok.
const GROWER = (limits) => `(module
  (memory (export "memory") 1 ${limits})
  (global $hp (mut i32) (i32.const 1024))
  (func (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $hp)) (global.set $hp (i32.add (global.get $hp) (local.get $n))) (local.get $p))
  (func (export "bext_dealloc") (param i32 i32) (global.set $hp (i32.const 1024)))
  (func (export "on_request_complete") (param i32 i32) (result i32)
    (block $full (loop $grow
      (br_if $full (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)))
      (br $grow)))
    (i32.const 0)))`;

/** Plain V8: instantiate here and grow to `pages`; ms. */
async function plain(pages, shared) {
  const bytes = wat(GROWER(`${pages}${shared ? ' shared' : ''}`), { features: { threads: shared } });
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const t0 = performance.now();
  instance.exports.on_request_complete(0, 0);
  const ms = performance.now() - t0;
  if (instance.exports.memory.buffer.byteLength !== pages * 65536) throw new Error('plain V8 did not reach the cap');
  return ms;
}

/** bext: the module declares no maximum; limits.max_memory_mb caps it. ms and fuel share. */
async function viaBext(dir, mb) {
  const file = path.join(dir, `grow-${mb}.wasm`);
  writeFileSync(file, wat(GROWER('')));
  const plugin = { ...defaultPluginConfig(file), name: `grow${mb}`, limits: { ...defaultPluginConfig(file).limits, max_memory_mb: mb, timeout_ms: 120_000 } };
  const h = await loadPlugin({ plugin, stateDir: path.join(dir, '.bext'), logOutcomes: false });
  try {
    const t0 = performance.now();
    const r = await h.call({ hook: 'on_request_complete', eventJson: '{}' });
    const ms = performance.now() - t0;
    if (r.outcome !== 'ok') throw new Error(`${r.outcome}: ${r.message}`);
    return { ms, fuel: r.fuelUsed, budget: plugin.fuel.on_request_complete };
  } finally {
    await h.close();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-grow-'));
try {
  const fmt = (ms) => (ms === null ? 'skipped' : `${ms.toFixed(0)} ms`).padStart(12);
  console.log('memory.grow 1 page at a time up to the cap');
  console.log(`${'cap'.padEnd(10)}${'V8 unshared'.padStart(12)}${'V8 shared'.padStart(12)}${'bext'.padStart(12)}${'bext fuel'.padStart(12)}`);
  for (const mb of SIZES_MB) {
    const pages = mb * PAGES_PER_MB;
    const unshared = mb <= 256 || FULL ? await plain(pages, false) : null;
    const shared = await plain(pages, true);
    const b = await viaBext(dir, mb);
    const share = `${((100 * b.fuel) / b.budget).toFixed(2)}%`.padStart(12);
    console.log(`${`${mb} MiB`.padEnd(10)}${fmt(unshared)}${fmt(shared)}${fmt(b.ms)}${share}`);
  }
  console.log('bext fuel = share of the on_request_complete budget the growing used');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
