// Memory per idle plugin (issue 20: RSS per idle plugin ≤ 12 MB): `bext dev` started on the same
// site with no plugins, with the four example plugins (plugins-example/, warm: instrumented modules
// already in .bext/cache) and with eight no-op plugins built from WAT, each left idle until its RSS
// settles; the RSS of the process (main thread and plugin workers together, from /proc) less that
// of the server without plugins, divided by the number of plugins. Rounds interleave the cases;
// medians and ranges. The goal is judged on the example plugins (real modules, with their linear
// memories and hooks run at start); the no-op line shows what the runtime alone costs. Beside each
// figure, the same for the process's anonymous (private) memory: RSS also counts file pages, such
// as the node binary's code, again for every mapping of them.
// Run: `npm run bench` (all benchmarks) or `node bench/plugin-memory.bench.js [--rounds 3]` (after a build).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';
import { copyExampleProject, freePort, getStatus, interleavedRounds } from './start-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bext = path.join(here, '..', 'bin', 'bext');
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const GOAL_MB = 12;
const NOOP_PLUGINS = 8;
/** RSS is read every SETTLE_STEP_MS once the banner shows, until two readings a step apart differ by < 0.5 MB. */
const SETTLE_STEP_MS = 1_000;

const NOOP_WAT = `(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))
  (func (export "alloc") (param i32) (result i32)
    (local $p i32)
    global.get $top local.set $p
    global.get $top local.get 0 i32.add global.set $top
    local.get $p)
  (func (export "dealloc") (param i32 i32))
  (func (export "on_request_complete") (param i32 i32) (result i32) i32.const 0))`;

const dir = copyExampleProject('bext-bench-pmem-', 'examples.toml');
const wabt = await initWabt();
const noop = wabt.parseWat('noop.wat', NOOP_WAT);
fs.writeFileSync(path.join(dir, 'noop.wasm'), Buffer.from(noop.toBinary({}).buffer));
noop.destroy();
fs.writeFileSync(path.join(dir, 'noops.toml'), [
  '[server]\nroot = "./public"\n',
  ...Array.from({ length: NOOP_PLUGINS }, (_, i) => `[plugins.noop${i}]\npath = "./noop.wasm"\n`),
].join('\n'));

/** VmRSS and RssAnon of the process, in MB. */
function memoryMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)[1]);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024 };
}

/** Starts `bext dev -c config`, waits for its banner and a 200, lets it idle until RSS settles; its memoryMb then. */
async function settledRss(config) {
  const port = await freePort();
  const child = spawn(process.execPath, [bext, 'dev', '-c', config, '-p', String(port), '--no-watch'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BEXT_LOG: 'warn', NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  try {
    const t0 = performance.now();
    while (!/ready in/.test(out) || (await getStatus(port)) !== 200) {
      if (child.exitCode !== null) throw new Error(`bext dev exited (${child.exitCode}): ${out}`);
      if (performance.now() - t0 > 30_000) throw new Error(`bext dev not ready in 30 s: ${out}`);
      await sleep(20);
    }
    let last = memoryMb(child.pid);
    for (let i = 0; i < 10; i++) {
      await sleep(SETTLE_STEP_MS);
      const now = memoryMb(child.pid);
      if (Math.abs(now.rss - last.rss) < 0.5) return now;
      last = now;
    }
    return last;
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

/** Case name → its config and how many plugins it starts. */
const cases = {
  'no plugins': { config: 'no-plugins.toml', plugins: 0 },
  '4 example plugins': { config: 'examples.toml', plugins: 4 },
  [`${NOOP_PLUGINS} no-op plugins`]: { config: 'noops.toml', plugins: NOOP_PLUGINS },
};
const rss = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const anon = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
try {
  await interleavedRounds(Object.keys(cases), ROUNDS, (name) => settledRss(cases[name].config), (name, mb) => {
    rss[name].push(mb.rss);
    anon[name].push(mb.anon);
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const base = median(rss['no plugins']);
const anonBase = median(anon['no plugins']);
console.log(`RSS of an idle bext dev, ${ROUNDS} interleaved rounds (median, range); [anonymous memory per plugin]`);
let verdict = '';
for (const [name, a] of Object.entries(rss)) {
  const n = cases[name].plugins;
  // Per round: that round's RSS less the median RSS without plugins.
  const per = n === 0 ? [] : a.map((x) => (x - base) / n);
  const perAnon = n === 0 ? [] : anon[name].map((x) => (x - anonBase) / n);
  const range = (xs) => `${median(xs).toFixed(1)} MB (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  const perText = n === 0 ? '' : `  → ${range(per)} per plugin [${range(perAnon)}]`;
  console.log(`${name.padEnd(20)} ${median(a).toFixed(1).padStart(6)} MB (${Math.min(...a).toFixed(1)}–${Math.max(...a).toFixed(1)})${perText}`);
  if (name === '4 example plugins') verdict = `GOAL RSS per idle plugin ≤ ${GOAL_MB} MB (the example plugins): ${median(per).toFixed(1)} MB ${median(per) <= GOAL_MB ? 'PASS' : 'MISS'}`;
}
console.log(verdict);
