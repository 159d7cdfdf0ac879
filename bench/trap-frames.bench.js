// Trap frames to source: how long bext takes to map a trap's frames (offset map, DWARF line
// tables, demangling, source lines) for a 10+ MB Rust debug module, on the first trap of a fresh
// process (nothing parsed yet, no code warmed up) and on later traps.
// Goal (issue 16): ≤ 50 ms on the first trap, ≤ 1 ms after.
// Run: `npm run bench -- trap` or `node bench/trap-frames.bench.js` (after `npx tsc -p .`).
// Needs rustc with the wasm32-wasi standard library (skips without it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingToolchain, rustTarget, rustTools } from '../plugins-example/build.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const RUNS = Number(process.env.BENCH_PROCS ?? (process.env.BENCH_QUICK === '1' ? 2 : 5));

/** The child: one trap, symbolized twice (first, then 200 more times). Prints JSON timings. */
async function child(wasmFile, cacheDir, verbose) {
  const { performance } = await import('node:perf_hooks');
  const { parseModule } = await import('../dist/wasm/index.js');
  const { instrumentCached, initialFuelFor } = await import('../dist/fuel/index.js');
  const { rawFrames } = await import('../dist/runtime/traps.js');
  const { createSymbolizer, shownStack } = await import('../dist/runtime/frames/symbolize.js');
  const bytes = new Uint8Array(readFileSync(wasmFile));
  const module = parseModule(bytes);
  const metered = await instrumentCached(bytes, cacheDir, { module, onProgress: () => {} });
  // Imports answer 0, which is enough for the panic to reach its abort.
  const imports = {};
  for (const i of module.imports) {
    if (i.kind !== 'function') continue;
    (imports[i.module] ??= {})[i.name] = i.type.results[0] === 'i64' ? () => 0n : () => 0;
  }
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(metered.bytes), imports);
  instance.exports.bext_fuel.value = initialFuelFor(100_000_000);
  let raw;
  try {
    instance.exports.on_reload();
  } catch (err) {
    raw = rawFrames(err.stack);
  }
  if (!raw) throw new Error('on_reload did not trap');

  const t0 = performance.now();
  const symbolize = createSymbolizer({ bytes, module, offsets: metered.offsets });
  const frames = symbolize(raw, verbose);
  const rows = shownStack(frames, verbose);
  const first = performance.now() - t0;
  const later = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    shownStack(symbolize(raw, verbose), verbose);
    later.push(performance.now() - t);
  }
  later.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ first, later: later[100], frames: raw.length, rows: rows.map((r) => r.text) }) + '\n');
}

async function main() {
  const missing = missingToolchain('rust');
  if (missing) {
    console.log(`trap-frames: skipped (${missing})`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-traps-'));
  try {
    const wasm = path.join(dir, 'big.wasm');
    const { rustc } = rustTools();
    const b = spawnSync(rustc, ['--target', rustTarget(), '--crate-type', 'cdylib', '-g', '-C', 'opt-level=0', '-o', wasm, path.join(here, 'traps', 'big.rs')], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`rustc failed:\n${b.stderr}`);
    const mb = statSync(wasm).size / 1e6;
    const cache = path.join(dir, 'cache');
    const measure = (verbose) => {
      const results = [];
      for (let i = 0; i < RUNS; i++) {
        // The first child fills the instrumentation cache; every child is a fresh process.
        const r = spawnSync(process.execPath, [self, '--child', wasm, cache, verbose ? 'verbose' : ''], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`child failed:\n${r.stderr}`);
        results.push(JSON.parse(r.stdout));
      }
      return results;
    };
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`trap-frames: ${mb.toFixed(1)} MB Rust debug module; median of ${RUNS} fresh processes each`);
    for (const verbose of [false, true]) {
      const results = measure(verbose);
      const first = med(results.map((r) => r.first));
      const later = med(results.map((r) => r.later));
      const what = verbose ? 'BEXT_PLUGIN_LOG=trace (every frame to source)' : 'default (panic frames folded)';
      console.log(`  ${what}: first trap ${first.toFixed(1)} ms (goal ≤ 50), later traps ${later.toFixed(3)} ms (goal ≤ 1)`);
      console.log(`    per process, first: ${results.map((r) => r.first.toFixed(1)).join(', ')} ms`);
      if (!verbose) for (const row of results[0].rows) console.log(`    at ${row}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5] === 'verbose');
else await main();
