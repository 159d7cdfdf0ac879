// Instrumentation memory and speed on big modules (issue 20): peak RSS ≤ 3× the module size and
// ≥ 10 MB/s cold.
// Run: `npm run bench` (all benchmarks) or `node bench/instrument-memory.bench.js` (after a build).
// BENCH_QUICK=1: one round; BENCH_SHAPES=small-funcs,tiled: only those shapes; BENCH_MB=N: module
// size (default 50); BENCH_REF_DIST=/path/to/other/dist: also measure that build of bext in the
// same rounds (before/after comparisons).
//
// Method. Each module (several shapes, see gen-shapes.js; ≥ 50 MB; built once into the OS temp
// dir) is instrumented cold — a fresh process, an empty cache dir — in the two ways a user meets:
//   load        what the first `bext dev` load of the plugin pays for instrumenting: the loader has
//               parsed and validated the module (checkModule, which every load runs, cached or not;
//               not timed), then instrumentCached() with that parse, writing the cache files, and
//               without validating its output: the compile that follows in the loader validates
//               it (that compile is not timed here, and was paid before as well);
//   standalone  `bext plugin instrument`: instrument() from the bytes alone (it parses and
//               validates the input itself); no cache.
// Its peak RSS (maxRSS) is compared with that of a baseline process that reads the same module
// into memory (and for load, parses and validates it as the loader does). What the 3× counts:
//   (peak RSS instrumenting − peak RSS of the baseline) ÷ module size,
// i.e. everything instrumenting adds on top of holding the input: the output module, the offset
// map, every intermediate copy, the JS heap's growth and the cache writes. Speed is module size ÷
// the CPU time of the timed call (every thread of the process: the rewrite, for standalone V8's
// validation of the input and the output, the compiler threads, the GC, the cache writes) in that
// cold process; wall time is printed beside it (on a shared machine it includes other people's
// load). Baseline and instrumenting processes alternate, round after round. This process never
// holds a module (Linux hands a parent's peak RSS down to the maxRSS of the children it forks).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledBigModule } from './gen-big.js';
import { bigData, hugeFuncs, smallFuncs, tiled } from './gen-shapes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 1 : 3;
const MB = Number(process.env.BENCH_MB ?? 50);
const MEMORY_GOAL = 3;
const SPEED_GOAL = 10;
const dir = path.join(tmpdir(), 'bext-bench');
/** BENCH_MODES=load: only the first-load mode. */
const MODES = (process.env.BENCH_MODES ?? 'load,standalone').split(',');

/** Child: read the module, and instrument it cold unless a baseline (see the modes above); print one JSON line. */
async function child(mode, file, dist) {
  const bytes = readFileSync(file);
  const wasm = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  let r = {};
  if (mode === 'base-load') {
    // The load's baseline: what the loader holds and has done before instrumenting.
    const { parseModule } = await import(pathToFileURL(path.join(dist, 'wasm/index.js')).href);
    const module = parseModule(wasm);
    if (!WebAssembly.validate(wasm) || module.sections.length === 0) throw new Error('the module does not validate');
  } else if (mode === 'load') {
    const { instrumentCached } = await import(pathToFileURL(path.join(dist, 'fuel/index.js')).href);
    const { parseModule } = await import(pathToFileURL(path.join(dist, 'wasm/index.js')).href);
    // As the loader's checkModule does before instrumenting (on every load, cached or not).
    const module = parseModule(wasm);
    if (!WebAssembly.validate(wasm)) throw new Error('the module does not validate');
    const cache = mkdtempSync(path.join(tmpdir(), 'bext-bench-imem-'));
    try {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await instrumentCached(wasm, cache, { module, inputValidated: true, checkOutput: false });
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      if (out.fromCache) throw new Error('cold run hit the cache');
      r = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, outBytes: out.bytes.length };
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  } else if (mode === 'standalone') {
    const { instrument } = await import(pathToFileURL(path.join(dist, 'fuel/index.js')).href);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await instrument(wasm);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    r = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, outBytes: out.length };
  }
  console.log(JSON.stringify({ ...r, maxRss: process.resourceUsage().maxRSS * 1024 }));
}

function inChild(mode, file, dist) {
  const out = execFileSync(process.execPath, [self, '--child', mode, file, dist], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

const SHAPES = [
  { name: 'small-funcs', what: 'many small functions', make: () => smallFuncs(MB) },
  // V8 refuses functions over 7.65 MB, and metering grows a body by up to 60%: 3 MB each.
  { name: 'huge-funcs', what: 'functions of 3 MB each', make: () => hugeFuncs(MB, Math.ceil(MB / 3)) },
  { name: 'big-data', what: 'data segments, 2 MB of code', make: () => bigData(MB, 2) },
  { name: 'tiled', what: 'clang -O0 C module, code repeated', make: () => tiled(compiledBigModule(2000), MB) },
];

const shapeFile = (shape) => path.join(dir, `shape-v2-${shape.name}-${MB}mb.wasm`);

/** Child: writes the shape's module file (generation is deterministic). */
function generate(name) {
  const shape = SHAPES.find((s) => s.name === name);
  const bytes = shape.make();
  if (!WebAssembly.validate(bytes)) throw new Error(`generated ${shape.name} module does not validate`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(shapeFile(shape), bytes);
}

/**
 * The shape's module file, generated once, in a child process: Linux carries a process's peak
 * RSS over fork and exec into its children's maxRSS, so this process must never hold a big
 * module itself (it only ever looks at the files' sizes).
 */
function ensureShape(shape) {
  const file = shapeFile(shape);
  if (!existsSync(file)) {
    console.log(`generating ${shape.name} (${MB} MB, once; cached in ${dir})...`);
    execFileSync(process.execPath, [self, '--generate', shape.name], { stdio: 'inherit' });
  }
  return file;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pad = (s, n) => String(s).padStart(n);

async function main() {
  const builds = [{ label: 'this build', dist: path.join(here, '..', 'dist') }];
  if (process.env.BENCH_REF_DIST) builds.push({ label: 'reference', dist: path.resolve(process.env.BENCH_REF_DIST) });
  const chosen = SHAPES.filter((s) => !process.env.BENCH_SHAPES || process.env.BENCH_SHAPES.split(',').includes(s.name));
  const files = [];
  for (const s of chosen) {
    try {
      files.push({ shape: s, file: ensureShape(s) });
    } catch (err) {
      console.log(`instrument-memory: ${s.name} skipped (${err.message.split('\n')[0]})`);
    }
  }
  console.log(`instrument-memory: cold, in a fresh process, ${ROUNDS} round(s), medians; load = instrumentCached() after the loader's parse and validation (first \`bext dev\` load), standalone = instrument() (\`bext plugin instrument\`); memory = (peak RSS − peak RSS of a process that only read the module) ÷ module size`);
  console.log(`${'shape'.padEnd(12)} ${'build'.padEnd(10)} ${'mode'.padEnd(10)} ${pad('MB', 6)} ${pad('MB/s cpu', 9)} ${pad('spread', 11)} ${pad('MB/s wall', 10)} ${pad('peak MB', 8)} ${pad('base MB', 8)} ${pad('mem ×', 6)} ${pad('raw ×', 6)}  goals`);
  let misses = 0;
  for (const { shape, file } of files) {
    const size = statSync(file).size;
    const base = { load: [], standalone: [] };
    const runs = new Map(builds.flatMap((b) => MODES.map((m) => [`${b.label}/${m}`, []])));
    for (let i = 0; i < ROUNDS; i++) {
      if (MODES.includes('standalone')) base.standalone.push(inChild('base', file, '').maxRss);
      if (MODES.includes('load')) base.load.push(inChild('base-load', file, builds[0].dist).maxRss);
      // Builds and modes in a rotated order, so none always runs first after the baseline.
      const order = builds.flatMap((b) => MODES.map((m) => [b, m]));
      for (let k = 0; k < order.length; k++) {
        const [b, m] = order[(k + i) % order.length];
        runs.get(`${b.label}/${m}`).push(inChild(m, file, b.dist));
      }
    }
    for (const b of builds) {
      for (const m of MODES) {
        const baseRss = median(base[m]);
        const rs = runs.get(`${b.label}/${m}`);
        const peak = median(rs.map((r) => r.maxRss));
        const mbs = rs.map((r) => size / 1e6 / (r.cpuMs / 1000));
        const cpuMbs = size / 1e6 / (median(rs.map((r) => r.cpuMs)) / 1000);
        const wallMbs = size / 1e6 / (median(rs.map((r) => r.wallMs)) / 1000);
        const mem = (peak - baseRss) / size;
        const memOk = mem <= MEMORY_GOAL;
        const speedOk = cpuMbs >= SPEED_GOAL;
        // The goal is judged on the load (what `bext dev` users wait for); standalone is printed beside it.
        if (b.label === 'this build' && m === 'load' && !(memOk && speedOk)) misses++;
        const goals = m === 'load' ? `memory ≤ ${MEMORY_GOAL}× ${memOk ? 'PASS' : 'MISS'}, speed ≥ ${SPEED_GOAL} MB/s ${speedOk ? 'PASS' : 'MISS'}` : '';
        const spread = `${Math.min(...mbs).toFixed(1)}–${Math.max(...mbs).toFixed(1)}`;
        console.log(
          `${shape.name.padEnd(12)} ${b.label.padEnd(10)} ${m.padEnd(10)} ${pad((size / 1e6).toFixed(1), 6)} ${pad(cpuMbs.toFixed(1), 9)} ${pad(spread, 11)} ${pad(wallMbs.toFixed(1), 10)} ${pad((peak / 1e6).toFixed(0), 8)} ${pad((baseRss / 1e6).toFixed(0), 8)} ${pad(mem.toFixed(2), 6)} ${pad((peak / size).toFixed(2), 6)}  ${goals}`,
        );
      }
    }
  }
  console.log(`GOAL instrumentation memory ≤ ${MEMORY_GOAL}× the module and ≥ ${SPEED_GOAL} MB/s cold (first load), every shape: ${misses === 0 && files.length > 0 ? 'PASS' : 'MISS'}`);
}

const at = process.argv.indexOf('--child');
const gen = process.argv.indexOf('--generate');
if (at >= 0) await child(process.argv[at + 1], process.argv[at + 2], process.argv[at + 3]);
else if (gen >= 0) generate(process.argv[gen + 1]);
else await main();
