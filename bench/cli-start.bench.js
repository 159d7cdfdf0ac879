// CLI start-up cost: CPU (user+sys) and wall of short bext commands, the kind the test suite runs
// hundreds of times, beside `node -e 0` (Node's own start-up, the floor). With `--before DIR` the
// same commands also run from another checkout's bin/bext (built), in the same interleaved rounds,
// and the table gives after ÷ before. `--maps` adds a variant with --enable-source-maps.
// Commands: `--version`; `config check` and `plugin run` on a copy of plugins-example/ (4 plugins;
// their instrumented modules warm in its .bext/cache); `dev` with 0 plugins until its first 200
// (CPU read from /proc at that moment, so Linux only for that row).
// Run: npm run build && node bench/cli-start.bench.js [--rounds 9] [--before /path/to/other/checkout] [--maps]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyExampleProject, cpuMs, freePort, getStatus } from './start-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ROUNDS = Number(opt('rounds') ?? 9);
const before = opt('before');

const variants = {};
if (before) variants.before = [path.join(path.resolve(before), 'bin', 'bext')];
variants.after = [path.join(here, '..', 'bin', 'bext')];
if (argv.includes('--maps')) variants['after+maps'] = ['--enable-source-maps', path.join(here, '..', 'bin', 'bext')];

const dir = copyExampleProject('bext-bench-cli-', 'bext.config.toml');

const env = { ...process.env, BEXT_LOG: 'warn', NO_COLOR: '1' };

/** Runs node with args to completion through bash, whose `times` gives the child's user+sys. */
function oneShot(args) {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const t0 = performance.now();
    const child = spawn('bash', ['-c', `${quoted} >/dev/null 2>"$ERRFILE"; code=$?; times; exit $code`], {
      cwd: dir,
      env: { ...env, ERRFILE: path.join(dir, 'stderr.txt') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const wall = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${fs.readFileSync(path.join(dir, 'stderr.txt'), 'utf8')}`));
      const line = out.trim().split('\n')[1] ?? '';
      const cpu = [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((s, m) => s + Number(m[1]) * 60 + Number(m[2]), 0);
      resolve({ cpu: cpu * 1000, wall });
    });
  });
}

/** `bext dev` with 0 plugins: wall from spawn to the first 200, and the server's CPU by then. */
async function devStart(args) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...args, 'dev', '-c', 'no-plugins.toml', '-p', String(port)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`bext dev exited (${child.exitCode}): ${stderr}`);
      if ((await getStatus(port)) === 200) return { wall: performance.now() - t0, cpu: cpuMs(child.pid) };
      await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 30_000) throw new Error(`no 200 within 30 s: ${stderr}`);
    }
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

const commands = {
  'node -e 0': { floor: true, run: () => oneShot(['-e', '0']) },
  'bext --version': { run: (bin) => oneShot([...bin, '--version']) },
  'bext config check (4 plugins)': { run: (bin) => oneShot([...bin, 'config', 'check']) },
  'bext config check --no-plugins': { run: (bin) => oneShot([...bin, 'config', 'check', '--no-plugins']) },
  'bext plugin run (bot-counter)': { run: (bin) => oneShot([...bin, 'plugin', 'run', 'bot-counter', 'on_reload']) },
  'bext dev, 0 plugins, to first 200': { run: (bin) => devStart(bin) },
};

const jobs = [];
for (const [name, c] of Object.entries(commands)) {
  if (c.floor) jobs.push({ name, variant: '', run: c.run });
  else for (const [variant, bin] of Object.entries(variants)) jobs.push({ name, variant, run: () => c.run(bin) });
}
const samples = new Map(jobs.map((j) => [j, []]));
try {
  for (const j of jobs) await j.run(); // warm: module caches, state.db, the OS file cache
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order so no job always runs right after another.
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[(i + r) % jobs.length];
      samples.get(j).push(await j.run());
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const ms = (v) => `${Math.round(v)}`.padStart(6);
console.log(`CLI start-up, ${ROUNDS} interleaved rounds, medians (min–max) in ms, ${os.cpus().length} cpus, node ${process.version}`);
console.log(`${'command'.padEnd(36)} ${'variant'.padEnd(11)} ${'cpu'.padStart(6)} ${'range'.padStart(11)} ${'wall'.padStart(6)} ${'range'.padStart(11)}  cpu÷before wall÷before`);
const byName = new Map();
for (const j of jobs) {
  const a = samples.get(j);
  const cpu = a.map((s) => s.cpu);
  const wall = a.map((s) => s.wall);
  const row = { cpu: median(cpu), wall: median(wall) };
  byName.set(`${j.name}/${j.variant}`, row);
  const base = byName.get(`${j.name}/before`);
  const ratio = base && j.variant !== 'before' ? `${(row.cpu / base.cpu).toFixed(2).padStart(10)} ${(row.wall / base.wall).toFixed(2).padStart(11)}` : '';
  console.log(
    `${j.name.padEnd(36)} ${j.variant.padEnd(11)} ${ms(row.cpu)} ${`${Math.round(Math.min(...cpu))}–${Math.round(Math.max(...cpu))}`.padStart(11)} ` +
      `${ms(row.wall)} ${`${Math.round(Math.min(...wall))}–${Math.round(Math.max(...wall))}`.padStart(11)}  ${ratio}`,
  );
}
